/* A tiny program that uses the installed mini-infer: plans three buffers. */
#include <mini_infer/planner.h>
#include <stdio.h>

int main(void) {
    mi_buffer b[] = {{1000, 0, 1}, {2000, 1, 2}, {1000, 2, 3}};
    mi_problem p = {b, 3, MI_DEFAULT_ALIGNMENT};
    size_t off[3];
    mi_solve_result r;
    mi_status st = mi_solve(&p, NULL, off, &r);
    if (st != MI_OK) {
        fprintf(stderr, "mi_solve: %s: %s\n", mi_status_str(st), mi_last_error());
        return 1;
    }
    printf("mini-infer %s: pool %zu bytes, lower bound %zu\n", mi_version(), r.pool_size, r.lower_bound);
    return r.pool_size == 3072 ? 0 : 1;
}
