/*
 * The platform side of the C ABI test on a Cortex-M4F (QEMU mps2-an386): the vector table,
 * a reset handler (enables the FPU, copies .data, zeroes .bss, runs the test, exits), and
 * plat_puts over Arm semihosting (SYS_WRITE0; SYS_EXIT makes QEMU exit 0 or 1).
 */
#include <stdint.h>

#include "focal_loss.h"
#include "test_capi.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUN_TIME_ERROR 0x20023

void plat_puts(const char *line) {
    semihost(SYS_WRITE0, line);
    semihost(SYS_WRITE0, "\n");
}

static void __attribute__((noreturn)) plat_exit(int failed) {
    /* On 32-bit Arm the argument of SYS_EXIT is the reason itself. */
    semihost(SYS_EXIT, (const void *)(uintptr_t)(failed ? ADP_STOPPED_RUN_TIME_ERROR
                                                        : ADP_STOPPED_APPLICATION_EXIT));
    for (;;) {
    }
}

void __attribute__((noreturn)) reset_handler(void) {
    uint32_t *src = &_sidata, *dst = &_sdata;
    /* CPACR: full access to CP10 and CP11 (the FPU) before any floating-point instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    plat_exit(focal_capi_tests(FOCAL_BACKEND_SCALAR));
}

static void __attribute__((noreturn)) fault_handler(void) {
    plat_puts("# FAIL fault exception");
    plat_exit(1);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack, /* initial stack pointer: the top of RAM */
    reset_handler,
    fault_handler, /* NMI */
    fault_handler, /* HardFault */
    fault_handler, /* MemManage */
    fault_handler, /* BusFault */
    fault_handler, /* UsageFault (also a panic's udf, which the library never reaches) */
    0, 0, 0, 0,
    fault_handler, /* SVCall */
    fault_handler, /* DebugMonitor */
    0,
    fault_handler, /* PendSV */
    fault_handler, /* SysTick */
};
