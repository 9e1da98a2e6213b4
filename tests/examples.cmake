# Every example builds (examples/CMakeLists.txt) and runs.
set(r50 ${MI_MODELS_DIR}/resnet50/model.onnx)
set(lenet ${MI_MODELS_DIR}/lenet5/model.onnx)
add_test(NAME examples.embed_planner COMMAND example_embed_planner)
set_tests_properties(examples.embed_planner PROPERTIES PASS_REGULAR_EXPRESSION "validated: no two live buffers overlap")
add_test(NAME examples.plan_model COMMAND example_plan_model ${r50})
set_tests_properties(examples.plan_model PROPERTIES PASS_REGULAR_EXPRESSION "saving ratio +0\\.[0-9]+" FIXTURES_REQUIRED models)
add_test(NAME examples.run_model_cpu COMMAND example_run_model ${lenet} cpu)
set_tests_properties(examples.run_model_cpu PROPERTIES PASS_REGULAR_EXPRESSION "caller-owned\\), top-1 class" FIXTURES_REQUIRED models)
add_test(NAME examples.shared_model COMMAND example_shared_model ${lenet})
set_tests_properties(examples.shared_model PROPERTIES PASS_REGULAR_EXPRESSION "two arenas" FIXTURES_REQUIRED models)
set(gpt ${MI_MODELS_DIR}/gpt_tiny/model.onnx)
set(vit ${MI_MODELS_DIR}/vit_tiny/model.onnx)
add_test(NAME examples.model_set COMMAND example_model_set cpu ${gpt} ${vit} ${lenet})
set_tests_properties(examples.model_set PROPERTIES PASS_REGULAR_EXPRESSION "after mi_context_sync: ok" FIXTURES_REQUIRED models)
foreach(t embed_planner plan_model run_model_cpu shared_model model_set)
  set_tests_properties(examples.${t} PROPERTIES FAIL_REGULAR_EXPRESSION "${MI_TEST_FAIL_REGEX}" TIMEOUT 300)
endforeach()
# On CUDA where this build has the backend: without a GPU they skip (the
# backend loaded and said so); a backend that does not load fails them.
if(TARGET mini_infer_cuda)
  add_test(NAME examples.run_model_cuda COMMAND example_run_model ${lenet} cuda)
  set_tests_properties(examples.run_model_cuda PROPERTIES PASS_REGULAR_EXPRESSION "engine-owned\\), top-1 class"
    SKIP_REGULAR_EXPRESSION "^skipped: " FAIL_REGULAR_EXPRESSION "${MI_TEST_FAIL_REGEX}" FIXTURES_REQUIRED models
    TIMEOUT 300)
  add_test(NAME examples.model_set_cuda COMMAND example_model_set cuda ${gpt} ${vit} ${lenet})
  set_tests_properties(examples.model_set_cuda PROPERTIES PASS_REGULAR_EXPRESSION "after mi_context_sync: ok"
    SKIP_REGULAR_EXPRESSION "^skipped: " FAIL_REGULAR_EXPRESSION "${MI_TEST_FAIL_REGEX}" FIXTURES_REQUIRED models
    TIMEOUT 300)
  add_test(NAME examples.workspace_budget COMMAND example_workspace_budget ${r50} cuda 5)
  set_tests_properties(examples.workspace_budget PROPERTIES PASS_REGULAR_EXPRESSION "max workspace"
    SKIP_REGULAR_EXPRESSION "skipped: " FAIL_REGULAR_EXPRESSION "${MI_TEST_FAIL_REGEX}" FIXTURES_REQUIRED models TIMEOUT 600)
endif()
add_test(NAME examples.workspace_budget_cpu COMMAND example_workspace_budget ${lenet} cpu 3)
set_tests_properties(examples.workspace_budget_cpu PROPERTIES PASS_REGULAR_EXPRESSION "1048576 +[0-9]+ +[0-9]+"
  FAIL_REGULAR_EXPRESSION "${MI_TEST_FAIL_REGEX}" FIXTURES_REQUIRED models TIMEOUT 600)
