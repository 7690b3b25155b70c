/*
 * What a C firmware links for one call: focal_capi_tests (the entry the startup code runs)
 * makes the call selected by ONE_CALL (1: focal_sigmoid_loss_and_grad, 2:
 * focal_softmax_loss_and_grad_u8, 0: none, the baseline) on a small batch and returns 0.
 * tests/c/run.sh links each with --gc-sections and prints the .text each call adds; the
 * results are not checked here (test_capi.c does that).
 */
#include <stddef.h>
#include <stdint.h>

#include "focal_loss.h"
#include "test_capi.h"

static float logits[40], targets[40], grad[40];
static uint8_t labels[4];
volatile float sink;

int focal_capi_tests(int32_t backend) {
    float loss = 0.0f;
    focal_error err;
    int32_t st = 0;
    for (size_t i = 0; i < 40; i++) {
        logits[i] = (float)i * 0.25f - 5.0f;
        targets[i] = (i % 7 == 0) ? 1.0f : 0.0f;
        labels[i % 4] = (uint8_t)(i % 10);
    }
#if ONE_CALL == 1
    focal_sigmoid_params p = focal_sigmoid_params_default();
    p.backend = backend;
    st = focal_sigmoid_loss_and_grad(&p, logits, 40, targets, 40, 0, FOCAL_REDUCTION_MEAN, 0.0f,
                                     grad, 40, &loss, &err);
#elif ONE_CALL == 2
    focal_softmax_params p = focal_softmax_params_default();
    p.backend = backend;
    st = focal_softmax_loss_and_grad_u8(&p, logits, 40, 10, labels, 4, FOCAL_REDUCTION_MEAN,
                                        0.0f, grad, 40, &loss, &err);
#else
    (void)backend;
    (void)err;
    sink = grad[0] + targets[0];
#endif
    sink = loss;
    return st != FOCAL_OK;
}
