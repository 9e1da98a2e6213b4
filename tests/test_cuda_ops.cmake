# Every op of the CUDA backend against the CPU backend. Needs a GPU: each
# test reports SKIPPED (cr_skip_test) where none is usable. Registered only
# when the CUDA backend is built.
if(TARGET mini_infer_cuda)
  mi_add_criterion_test(test_cuda_ops LABELS "cuda;gpu")
  add_dependencies(test_cuda_ops mini_infer_cuda)
endif()

# The same cases with the CPU backend standing in for the device (and the
# layout pass on that side): checks the cases themselves, the half
# precision and channels-last graphs included, where no GPU is.
if(TARGET test_cuda_ops)
  add_test(NAME cuda_ops.cases_on_cpu COMMAND test_cuda_ops -j1)
  set_tests_properties(cuda_ops.cases_on_cpu PROPERTIES
    ENVIRONMENT MI_CUDA_OPS_DEVICE=cpu
    FAIL_REGULAR_EXPRESSION "${MI_TEST_FAIL_REGEX}"
    PASS_REGULAR_EXPRESSION "Failing: 0 \\| Crashing: 0"
    TIMEOUT 300 LABELS cuda)
endif()
