# Loads the model zoo that the models.generate fixture writes (models.cmake).
mi_add_criterion_test(test_onnx FIXTURES models LIBS PkgConfig::PROTOBUF_C)
target_include_directories(test_onnx PRIVATE ${MI_GEN_DIR})
