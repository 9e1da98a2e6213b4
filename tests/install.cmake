# The installed package works for other C projects, through find_package
# and through pkg-config.
if(NOT MI_SANITIZE)
  add_test(NAME install.consumer
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/consumer/check.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR}
            ${CMAKE_BINARY_DIR}/consumer-work)
  set_tests_properties(install.consumer PROPERTIES PASS_REGULAR_EXPRESSION "consumer: PASS" TIMEOUT 300)
endif()
