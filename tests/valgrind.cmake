# valgrind memcheck over the CLI: plan and run (CPU) of each bundled model,
# no leaks, no invalid reads or writes. Not in sanitizer builds (ASan and
# valgrind do not mix).
find_program(MI_VALGRIND valgrind)
if(MI_VALGRIND AND NOT MI_SANITIZE AND NOT MI_FUZZ)
  set(vg ${MI_VALGRIND} --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
         --show-leak-kinds=definite,indirect --track-origins=no -q)
  foreach(m lenet5 mobilenet_v2 resnet50)
    set(model ${MI_MODELS_DIR}/${m}/model.onnx)
    set(data ${MI_MODELS_DIR}/${m}/test_data_set_0)
    add_test(NAME valgrind.plan.${m} COMMAND ${vg} $<TARGET_FILE:mini-infer> plan ${model} --svg ${CMAKE_BINARY_DIR}/vg-${m}.svg)
    add_test(NAME valgrind.run.${m} COMMAND ${vg} $<TARGET_FILE:mini-infer> run ${model}
             --input ${data}/input_0.pb --check ${data}/output_0.pb --poison)
    set_tests_properties(valgrind.plan.${m} valgrind.run.${m} PROPERTIES
      FIXTURES_REQUIRED models TIMEOUT 1200 LABELS valgrind)
  endforeach()
endif()
