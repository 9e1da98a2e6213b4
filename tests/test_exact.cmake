# test_exact compiles the hard-problem generator of the benchmarks with it.
mi_add_criterion_test(test_exact SOURCES ${CMAKE_SOURCE_DIR}/bench/hard_lib.c)
target_include_directories(test_exact PRIVATE ${CMAKE_SOURCE_DIR}/bench)
