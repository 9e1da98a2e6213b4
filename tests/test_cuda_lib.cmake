# The CUDA backend's glue without a GPU: pool pointer checks, the capture
# order, NVTX ranges through the injection hook (mi_nvtx_recorder, built by
# test_cuda_host.cmake), and loading libmini_infer_cuda.so. Registered only
# when the CUDA backend is built.
if(TARGET mini_infer_cuda AND TARGET mi_nvtx_recorder)
  mi_add_criterion_test(test_cuda_lib SOURCES ${MI_CUDA_HOST_SOURCES} LABELS cuda)
  target_include_directories(test_cuda_lib PRIVATE ${MI_CUDA_INCLUDE_DIRS})
  target_include_directories(test_cuda_lib SYSTEM PRIVATE ${MI_NVTX3_INCLUDE_DIR})
  target_compile_definitions(test_cuda_lib PRIVATE
    MI_NVTX_RECORDER="$<TARGET_FILE:mi_nvtx_recorder>"
    MI_CUDA_LIBRARY="$<TARGET_FILE:mini_infer_cuda>")
  target_link_libraries(test_cuda_lib PRIVATE ${CMAKE_DL_LIBS})
  add_dependencies(test_cuda_lib mi_nvtx_recorder mini_infer_cuda)
endif()
