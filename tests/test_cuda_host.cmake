# The CUDA backend's host-side logic (cuda/host_plan.c, cuda/index_math.h),
# tested without a GPU. Registered only when the CUDA backend is built
# (cuda/CMakeLists.txt found the toolkit). test_cuda_lib.cmake adds the
# library glue's tests, with the NVTX recorder this file builds.
if(TARGET mini_infer_cuda)
  # NVTX's injection hook: NVTX_INJECTION64_PATH points a test at this
  # library, which records the ranges (no nsys, no GPU).
  add_library(mi_nvtx_recorder SHARED ${CMAKE_CURRENT_SOURCE_DIR}/nvtx_recorder.c)
  target_include_directories(mi_nvtx_recorder SYSTEM PRIVATE ${MI_NVTX3_INCLUDE_DIR})
  target_compile_options(mi_nvtx_recorder PRIVATE ${MI_WARNINGS})
  target_link_libraries(mi_nvtx_recorder PRIVATE Threads::Threads ${CMAKE_DL_LIBS})

  mi_add_criterion_test(test_cuda_host SOURCES ${MI_CUDA_HOST_SOURCES} LABELS cuda)
  target_include_directories(test_cuda_host PRIVATE ${MI_CUDA_INCLUDE_DIRS})
  target_include_directories(test_cuda_host SYSTEM PRIVATE ${MI_NVTX3_INCLUDE_DIR})
endif()
