/* Host main of the C ABI test: `test_capi scalar|auto` prints the result lines on stdout. */
#include <stdio.h>
#include <string.h>

#include "focal_loss.h"
#include "test_capi.h"

void plat_puts(const char *line) { puts(line); }

int main(int argc, char **argv) {
    int32_t b = FOCAL_BACKEND_SCALAR;
    if (argc != 2 || (strcmp(argv[1], "scalar") != 0 && strcmp(argv[1], "auto") != 0)) {
        fputs("usage: test_capi scalar|auto\n", stderr);
        return 2;
    }
    if (strcmp(argv[1], "auto") == 0) b = FOCAL_BACKEND_AUTO;
    return focal_capi_tests(b);
}
