/* The platform shim between the shared C ABI test (test_capi.c) and its two mains. */
#ifndef FOCAL_TEST_CAPI_H
#define FOCAL_TEST_CAPI_H

#include <stdint.h>

/* Provided by the platform: write one line (without its newline). */
void plat_puts(const char *line);

/* Runs every case with kernel backend `backend_code` (FOCAL_BACKEND_SCALAR or _AUTO);
   0 if every check passed. */
int focal_capi_tests(int32_t backend_code);

#endif
