# The model zoo on the CPU backend: needs the models the models.generate
# fixture (models.cmake) writes. The sanitized build runs fewer ResNet-50
# combinations (MI_TEST_SANITIZED); ResNet-50 runs take a while, hence the
# longer timeout.
mi_add_criterion_test(test_models_cpu FIXTURES models TIMEOUT 900 LABELS models)
if(MI_SANITIZE)
  target_compile_definitions(test_models_cpu PRIVATE MI_TEST_SANITIZED=1)
endif()
