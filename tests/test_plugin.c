/* Loading a backend plugin (src/runtime/plugin.c), without a GPU: a
 * missing file, a library that is no plugin, one built for another ABI,
 * one that needs the program to export the core's symbols (this test
 * program exports none, like a user's), and one that works through the
 * host table and reports "no device" in this program's error slot. */
#include <criterion/criterion.h>
#include "common/alloc_hook.h"
#include "mini_infer/cuda.h"

#include <stdlib.h>
#include <string.h>

static mi_status open_with(const char *path, mi_backend **b) {
    cr_assert_eq(setenv("MI_CUDA_BACKEND", path, 1), 0);
    *b = NULL;
    return mi_backend_open("cuda:2", NULL, b);
}

#define ERR_HAS(s) cr_assert(strstr(mi_last_error(), (s)) != NULL, "%s", mi_last_error())

Test(plugin, a_missing_file_is_a_backend_error_naming_it) {
    mi_backend *b;
    cr_assert_eq(open_with("/nonexistent/libmini_infer_cuda.so", &b), MI_ERR_BACKEND);
    cr_assert_null(b);
    ERR_HAS("/nonexistent/libmini_infer_cuda.so");
    ERR_HAS("no such file");
    ERR_HAS("could not be loaded");
}

Test(plugin, a_library_that_is_no_plugin_is_refused) {
    mi_backend *b;
    cr_assert_eq(open_with(MI_FAKE_NO_ENTRY, &b), MI_ERR_BACKEND);
    ERR_HAS("not a mini-infer backend plugin");
}

Test(plugin, a_plugin_of_another_abi_is_refused_before_it_runs) {
    mi_backend *b;
    cr_assert_eq(open_with(MI_FAKE_OLD_ABI, &b), MI_ERR_BACKEND);
    ERR_HAS("plugin ABI");
    ERR_HAS("rebuild them together");
}

Test(plugin, a_plugin_needing_the_programs_symbols_says_which) {
    mi_backend *b;
    cr_assert_eq(open_with(MI_FAKE_UNDEFINED, &b), MI_ERR_BACKEND);
    ERR_HAS("undefined symbol");
    ERR_HAS("mi_tensor_numel");
}

Test(plugin, a_plugin_works_through_the_one_core_and_reports_no_device) {
    mi_backend *b;
    int64_t live = mi__alloc_outstanding();
    mi__alloc_fail_at(0);
    mi_status st = open_with(MI_FAKE_GOOD, &b);
    cr_assert_eq(st, MI_ERR_NO_DEVICE, "%s: %s", mi_status_name(st), mi_last_error());
    ERR_HAS("fake plugin: no device 2 here");
    cr_assert_geq(mi__alloc_count(), 1, "its allocation went through this program's hook");
    cr_assert_eq(mi__alloc_outstanding(), live);
    /* And the hook's failure injection reaches it too. */
    mi__alloc_fail_at(1);
    cr_assert_eq(open_with(MI_FAKE_GOOD, &b), MI_ERR_NO_MEMORY);
    ERR_HAS("fake plugin: 64 bytes");
    mi__alloc_fail_at(0);
}

Test(plugin, a_bad_device_index_is_an_argument_error) {
    mi_backend *b = NULL;
    cr_assert_eq(mi_backend_open("cuda:x", NULL, &b), MI_ERR_INVALID_ARG);
    ERR_HAS("cuda:N");
    cr_assert_eq(mi_backend_open("tpu", NULL, &b), MI_ERR_INVALID_ARG);
}

/* A caller's own backend: its ops table is checked, never read past the
 * size it declares. */
static mi_status fake_alloc(mi_backend *b, size_t n, const char *what, void **p) { return MI_ERR_INTERNAL; }

Test(plugin, a_callers_ops_table_is_checked) {
    mi_backend_ops ops;
    memset(&ops, 0, sizeof ops);
    ops.name = "mine";
    mi_backend b = {&ops, NULL, {0}};
    cr_assert_eq(mi_backend_check(&b), MI_ERR_INVALID_ARG);
    ERR_HAS("'mine'");
    ERR_HAS("MI_BACKEND_OPS_SIZE");
    ops.size = MI_BACKEND_OPS_SIZE;
    ops.alloc = fake_alloc;
    cr_assert_eq(mi_backend_check(&b), MI_ERR_INVALID_ARG);
    ERR_HAS("has no free");
    /* An older table ends before sync and control: they are not read. */
    mi_backend *cpu;
    cr_assert_eq(mi_backend_cpu_create(NULL, &cpu), MI_OK);
    ops = *cpu->ops;
    ops.size = MI_BACKEND_OPS_MIN_SIZE;
    ops.control = (mi_status(*)(mi_backend *, void *, int, void *))(void *)1; /* past its size: never called */
    b = (mi_backend){&ops, cpu->state, cpu->options};
    cr_assert_eq(mi_backend_check(&b), MI_OK, "%s", mi_last_error());
    cr_assert_not(MI_BACKEND_OPS_HAS(&ops, control));
    cr_assert_eq(mi_backend_control(&b, MI_CUDA_REQ_DEVICE_INFO, NULL), MI_ERR_UNSUPPORTED);
    ERR_HAS("answers no requests");
    mi_backend_close(cpu);
}
