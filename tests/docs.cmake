# The documentation cannot drift: docs/usage.md lists exactly the CLI's
# options, and docs/quickstart.md's commands run as written in a fresh clone.
add_test(NAME docs.usage_matches_help COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_usage.sh
         $<TARGET_FILE:mini-infer> ${CMAKE_SOURCE_DIR}/docs/usage.md ${CMAKE_SOURCE_DIR}/include)
set_tests_properties(docs.usage_matches_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: PASS" FAIL_REGULAR_EXPRESSION "FAIL:")
if(NOT MI_SANITIZE AND EXISTS ${CMAKE_SOURCE_DIR}/.git)
  add_test(NAME docs.quickstart_runs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_quickstart.sh
           ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/quickstart-work)
  set_tests_properties(docs.quickstart_runs PROPERTIES PASS_REGULAR_EXPRESSION "quickstart: PASS" TIMEOUT 2400
    RUN_SERIAL TRUE LABELS slow)
endif()
