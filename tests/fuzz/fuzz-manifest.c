/* libFuzzer target: any bytes through the manifest parser and validator. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../parsers/parsers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static FILE *null_f;
        if (!null_f) {
                null_f = fopen("/dev/null", "w");
                diag_set_stream(null_f);
        }
        struct manifest_set set = { 0 };
        manifest_parse_buffer(&set, "fuzz.yaml", (const char *) data, size, "kvm1");
        manifests_validate(&set);
        manifests_done(&set);
        return 0;
}
