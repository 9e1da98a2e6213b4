# Loading a backend plugin: each way it can fail says why, and a plugin
# reaches the program's one core through the table (tests/plugin/).
foreach(kind NO_ENTRY OLD_ABI UNDEFINED GOOD)
  string(TOLOWER ${kind} lower)
  add_library(mi_fake_${lower} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/plugin/fake_plugin.c)
  target_compile_definitions(mi_fake_${lower} PRIVATE FAKE_${kind} _GNU_SOURCE)
  target_include_directories(mi_fake_${lower} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/include)
  set_target_properties(mi_fake_${lower} PROPERTIES C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fake_plugins)
  list(APPEND MI_FAKE_DEFS MI_FAKE_${kind}="$<TARGET_FILE:mi_fake_${lower}>")
endforeach()
mi_add_criterion_test(test_plugin)
target_compile_definitions(test_plugin PRIVATE ${MI_FAKE_DEFS})
add_dependencies(test_plugin mi_fake_no_entry mi_fake_old_abi mi_fake_undefined mi_fake_good)
