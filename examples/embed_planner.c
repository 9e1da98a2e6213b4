/* Embedding the planner in another engine: no graph, no ONNX. The engine
 * describes its buffers (size, first step, last step) and gets offsets
 * inside one pool, then allocates that pool once.
 *
 *   embed_planner */
#include <mini_infer/planner.h>

#include <stdio.h>
#include <stdlib.h>

int main(void) {
    /* A small network's tensors: conv1 -> relu -> conv2 -> add(conv1 output) -> fc */
    mi_buffer bufs[] = {
        {802816, 0, 3},  /* t0: conv1 output, read again by the add at step 3 */
        {802816, 1, 2},  /* t1: relu output */
        {401408, 2, 3},  /* t2: conv2 output */
        {401408, 3, 4},  /* t3: add output */
        {4000, 4, 5},    /* t4: fc output */
        {1 << 20, 2, 2}, /* conv2's workspace: live at its own step only */
    };
    size_t n = sizeof bufs / sizeof bufs[0];
    mi_problem p = {bufs, n, MI_DEFAULT_ALIGNMENT};
    size_t offsets[sizeof bufs / sizeof bufs[0]];
    mi_solve_options opt;
    mi_solve_options_init(&opt); /* strategy auto: every heuristic, then a bounded exact search */
    mi_solve_result r;
    mi_status st = mi_solve(&p, &opt, offsets, &r);
    if (st != MI_OK) {
        fprintf(stderr, "mi_solve: %s: %s\n", mi_status_str(st), mi_last_error());
        return 1;
    }
    printf("pool %zu bytes (lower bound %zu, naive %zu), by %s%s\n", r.pool_size, r.lower_bound,
           r.naive_size, mi_strategy_name(r.strategy), r.proven_optimal ? ", proven optimal" : "");
    for (size_t i = 0; i < n; i++)
        printf("  buffer %zu: %8zu bytes at offset %8zu, steps %lld-%lld\n", i, bufs[i].size, offsets[i],
               (long long)bufs[i].first, (long long)bufs[i].last);
    /* One allocation for everything; each buffer is pool + offset. */
    unsigned char *pool = aligned_alloc(MI_DEFAULT_ALIGNMENT, r.pool_size);
    if (!pool) return 1;
    st = mi_validate(&p, offsets, r.pool_size);
    printf("validated: %s\n", st == MI_OK ? "no two live buffers overlap" : mi_last_error());
    free(pool);
    return st == MI_OK ? 0 : 1;
}
