# Builds models as bytes with the generated protobuf-c API, so it needs the
# generated header and libprotobuf-c.
mi_add_criterion_test(test_onnx_bad LIBS PkgConfig::PROTOBUF_C)
target_include_directories(test_onnx_bad PRIVATE ${MI_GEN_DIR})
