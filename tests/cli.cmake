# The command line: exit codes, messages and outputs (tests/cli/cli_test.sh).
foreach(c help solve_ok solve_capacity solve_bad plan_lenet plan_bad run_lenet plan_set run_set)
  add_test(NAME cli.${c} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/cli_test.sh ${c} $<TARGET_FILE:mini-infer>
           ${CMAKE_CURRENT_SOURCE_DIR}/data ${MI_MODELS_DIR} ${CMAKE_BINARY_DIR}/cli-work/${c})
  set_tests_properties(cli.${c} PROPERTIES PASS_REGULAR_EXPRESSION "PASS: ${c}"
    FAIL_REGULAR_EXPRESSION "FAIL: ${c};${MI_TEST_FAIL_REGEX}" TIMEOUT 600)
  if(c MATCHES "^(plan|run)_")
    set_tests_properties(cli.${c} PROPERTIES FIXTURES_REQUIRED models)
  endif()
endforeach()
