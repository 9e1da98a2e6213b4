/* Fuzz target: bytes -> CSV problem reader -> plan -> validate. */
#include "mini_infer/planner.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mi_csv *csv = NULL;
    if (mi_csv_parse((const char *)data, size, "fuzz.csv", &csv) != MI_OK) return 0;
    size_t n = mi_csv_count(csv);
    size_t *off = malloc((n ? n : 1) * sizeof *off);
    if (off && n <= 20000) {
        mi_problem p = {mi_csv_buffers(csv), n, 256};
        mi_solve_options o;
        mi_solve_options_init(&o);
        o.strategy = (mi_strategy)(size % MI_STRATEGY_EXACT); /* each heuristic in turn */
        mi_solve_result r;
        if (mi_solve(&p, &o, off, &r) == MI_OK && mi_validate(&p, off, r.pool_size) != MI_OK) abort();
    }
    free(off);
    mi_csv_destroy(csv);
    return 0;
}
