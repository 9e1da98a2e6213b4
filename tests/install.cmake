# The installed package works in a user's program: find_package and
# pkg-config, static archive and shared library, the CUDA backend found
# from an install prefix that was moved (tests/consumer/check.sh).
if(NOT MI_SANITIZE)
  if(TARGET mini_infer_cuda)
    set(MI_CONSUMER_CUDA cuda)
  else()
    set(MI_CONSUMER_CUDA no-cuda)
  endif()
  add_test(NAME install.consumer
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/consumer/check.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR}
            ${CMAKE_BINARY_DIR}/consumer-work ${MI_MODELS_DIR}/lenet5/model.onnx ${MI_CONSUMER_CUDA})
  set_tests_properties(install.consumer PROPERTIES PASS_REGULAR_EXPRESSION "consumer: PASS"
    FAIL_REGULAR_EXPRESSION "consumer: FAIL" FIXTURES_REQUIRED models TIMEOUT 600)
endif()
