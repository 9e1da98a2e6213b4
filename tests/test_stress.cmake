# Concurrency stress: threads x contexts on one shared model (CNNs,
# transformers, a model set on one arena, a batch range), every output
# byte-identical to the single-threaded run. Label "stress"; scripts/tsan.sh
# builds it with ThreadSanitizer (MI_TSAN) and runs ctest -L stress, where
# any TSan report fails the case.
set(MI_STRESS_FAIL_REGEX ${MI_TEST_FAIL_REGEX} "WARNING: ThreadSanitizer" "SUMMARY: ThreadSanitizer")
if(NOT MI_TSAN)
  set(MI_TEST_FAIL_REGEX_SAVED "${MI_TEST_FAIL_REGEX}")
  set(MI_TEST_FAIL_REGEX "${MI_STRESS_FAIL_REGEX}")
  mi_add_criterion_test(test_stress FIXTURES models LIBS Threads::Threads TIMEOUT 900 LABELS stress)
  set(MI_TEST_FAIL_REGEX "${MI_TEST_FAIL_REGEX_SAVED}")
else()
  # Criterion cannot start under TSan (tests/test_stress.c): the same cases
  # in one plain executable, one ctest case each, passing on exit status 0
  # with no TSan report (halt_on_error=1 exits 66 at the first).
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/test_stress.c)
  add_executable(test_stress ${src})
  target_link_libraries(test_stress PRIVATE mini_infer Threads::Threads)
  target_include_directories(test_stress PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_options(test_stress PRIVATE ${MI_WARNINGS} -Wno-missing-field-initializers)
  target_compile_definitions(test_stress PRIVATE _GNU_SOURCE MI_STRESS_STANDALONE MI_MODELS_DIR="${MI_MODELS_DIR}")
  file(READ ${src} text)
  string(REGEX MATCHALL "\nTest\\([ \t]*stress[ \t]*,[ \t]*[A-Za-z0-9_]+" decls "${text}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
  foreach(d IN LISTS decls)
    string(REGEX REPLACE "\nTest\\([ \t]*stress[ \t]*,[ \t]*([A-Za-z0-9_]+)" "\\1" tname "${d}")
    add_test(NAME stress.${tname} COMMAND test_stress ${tname})
    set_tests_properties(stress.${tname} PROPERTIES
      FAIL_REGULAR_EXPRESSION "${MI_STRESS_FAIL_REGEX}"
      TIMEOUT 900
      LABELS stress
      FIXTURES_REQUIRED models)
  endforeach()
endif()
