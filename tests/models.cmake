# The model zoo: scripts/make_models.py exports LeNet-5, MobileNet-V2 and
# ResNet-50 (static and dynamic batch) with random weights into
# MI_MODELS_DIR, with one test data set each. It needs Debian's python3
# with torch, torchvision and onnx; models already there are kept.
add_test(NAME models.generate
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/scripts/make_models.py ${MI_MODELS_DIR})
set_tests_properties(models.generate PROPERTIES
  FIXTURES_SETUP models
  TIMEOUT 1200
  LABELS models)
