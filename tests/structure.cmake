# The code's structure, checked like its behaviour:
#  layers.check  which way the layers' includes and calls run, and no cycle
#                inside the layers that must have none (tests/layers/check.py);
#  plans.golden  every plan of the bundled models byte for byte as recorded
#                (tests/plans/check.sh; a change of plan needs --update and a reason).
add_test(NAME layers.check
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/layers/check.py ${CMAKE_SOURCE_DIR}
          ${MI_CORE_OBJECT_DIR})
set_tests_properties(layers.check PROPERTIES PASS_REGULAR_EXPRESSION "layers: PASS"
  FAIL_REGULAR_EXPRESSION "layers: FAIL" TIMEOUT 120)

add_test(NAME plans.golden
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/plans/check.sh $<TARGET_FILE:mini-infer> ${MI_MODELS_DIR}
          ${CMAKE_CURRENT_SOURCE_DIR}/plans/golden.txt)
set_tests_properties(plans.golden PROPERTIES PASS_REGULAR_EXPRESSION "plans: PASS"
  FAIL_REGULAR_EXPRESSION "plans: FAIL" FIXTURES_REQUIRED models TIMEOUT 600)
