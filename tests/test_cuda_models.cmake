# The model zoo on the GPU (fixture models.generate from models.cmake):
# accuracy against PyTorch, CUDA Graphs, TF32, memory, out of memory, the
# caller's stream, NVTX. Each test reports SKIPPED without a usable GPU.
# Registered only when the CUDA backend is built; scripts/gpu-check.sh
# also runs it under compute-sanitizer.
if(TARGET mini_infer_cuda AND TARGET mi_nvtx_recorder)
  find_package(CUDAToolkit REQUIRED) # its imported targets are per directory
  mi_add_criterion_test(test_cuda_models FIXTURES models LABELS "cuda;gpu;models" TIMEOUT 900
    LIBS CUDA::cudart ${CMAKE_DL_LIBS})
  add_dependencies(test_cuda_models mini_infer_cuda mi_nvtx_recorder)
  target_compile_definitions(test_cuda_models PRIVATE MI_NVTX_RECORDER="$<TARGET_FILE:mi_nvtx_recorder>")
endif()
