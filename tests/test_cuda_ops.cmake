# Every op of the CUDA backend against the CPU backend. Needs a GPU: each
# test reports SKIPPED (cr_skip_test) where none is usable. Registered only
# when the CUDA backend is built.
if(TARGET mini_infer_cuda)
  mi_add_criterion_test(test_cuda_ops LABELS "cuda;gpu")
  add_dependencies(test_cuda_ops mini_infer_cuda)
endif()
