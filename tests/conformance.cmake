# ONNX node-test conformance of the CPU backend.
#
# Debian's libonnx-testdata ships ONNX's node tests (model.onnx and
# test_data_set_N/{input,output}_K.pb per directory). At configure time
# tests/conformance_list.py lists the directories whose models use only
# operators in MI_OP_LIST (graph.h), cached in the build directory; each
# becomes one ctest case, conformance.<dir>, running node_test_runner on it
# (the engine, CPU backend, poison mode). A directory named in
# tests/conformance_unsupported.txt must instead fail to load with the
# status given there (normally MI_ERR_UNSUPPORTED), so nothing is dropped
# silently. Without the test data or python3's onnx module, one test says
# why and is skipped.
set(MI_ONNX_NODE_TESTS /usr/share/libonnx-testdata/data/node CACHE PATH
  "ONNX's node tests (Debian package libonnx-testdata)")

add_executable(node_test_runner ${CMAKE_CURRENT_SOURCE_DIR}/node_test_runner.c)
target_link_libraries(node_test_runner PRIVATE mini_infer PkgConfig::PROTOBUF_C m)
target_include_directories(node_test_runner PRIVATE ${MI_GEN_DIR} ${CMAKE_SOURCE_DIR}/src)
target_compile_options(node_test_runner PRIVATE ${MI_WARNINGS})
target_compile_definitions(node_test_runner PRIVATE _GNU_SOURCE)

set(mi_conf_script ${CMAKE_CURRENT_SOURCE_DIR}/conformance_list.py)
set(mi_conf_unsupported ${CMAKE_CURRENT_SOURCE_DIR}/conformance_unsupported.txt)
set(mi_conf_graph_h ${CMAKE_SOURCE_DIR}/include/mini_infer/graph.h)
set(mi_conf_list ${CMAKE_BINARY_DIR}/conformance_dirs.txt)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${mi_conf_script} ${mi_conf_unsupported} ${mi_conf_graph_h})

function(mi_conformance_skip reason)
  add_test(NAME conformance.skipped COMMAND ${CMAKE_COMMAND} -E echo "SKIP: ${reason}")
  set_tests_properties(conformance.skipped PROPERTIES SKIP_REGULAR_EXPRESSION "SKIP:" LABELS conformance)
endfunction()

if(NOT IS_DIRECTORY ${MI_ONNX_NODE_TESTS})
  mi_conformance_skip("ONNX node tests not found at ${MI_ONNX_NODE_TESTS} (install libonnx-testdata)")
  return()
endif()
if(NOT EXISTS ${mi_conf_list} OR ${mi_conf_script} IS_NEWER_THAN ${mi_conf_list}
   OR ${mi_conf_graph_h} IS_NEWER_THAN ${mi_conf_list})
  execute_process(
    COMMAND /usr/bin/python3 ${mi_conf_script} ${MI_ONNX_NODE_TESTS} ${mi_conf_graph_h} ${mi_conf_list}
    RESULT_VARIABLE mi_conf_rc ERROR_VARIABLE mi_conf_err)
  if(NOT mi_conf_rc EQUAL 0)
    string(REGEX REPLACE "\n" " " mi_conf_err "${mi_conf_err}")
    mi_conformance_skip("listing the node tests failed (python3 with the onnx module is needed): ${mi_conf_err}")
    return()
  endif()
endif()

file(STRINGS ${mi_conf_list} mi_conf_dirs)
set(mi_conf_expected "")
if(EXISTS ${mi_conf_unsupported})
  file(STRINGS ${mi_conf_unsupported} mi_conf_lines REGEX "^test_")
  foreach(line IN LISTS mi_conf_lines)
    if(line MATCHES "^([A-Za-z0-9_]+)[ \t]+(MI_[A-Z_]+|DATA)[ \t]+[^ \t]")
      set(mi_conf_expect_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
      list(APPEND mi_conf_expected ${CMAKE_MATCH_1})
    else()
      message(SEND_ERROR "conformance_unsupported.txt: expected 'DIR STATUS reason', got: ${line}")
    endif()
  endforeach()
endif()

foreach(d IN LISTS mi_conf_dirs)
  if(DEFINED mi_conf_expect_${d})
    add_test(NAME conformance.${d}
      COMMAND node_test_runner ${MI_ONNX_NODE_TESTS}/${d} --expect ${mi_conf_expect_${d}})
  else()
    add_test(NAME conformance.${d} COMMAND node_test_runner ${MI_ONNX_NODE_TESTS}/${d})
  endif()
  set_tests_properties(conformance.${d} PROPERTIES LABELS conformance TIMEOUT 120
    FAIL_REGULAR_EXPRESSION "ERROR: AddressSanitizer;ERROR: LeakSanitizer;runtime error:")
endforeach()

# A listed directory that is no longer selected (renamed, or now using an
# operator we lack) makes the list stale: say so as a failing test.
set(mi_conf_stale "")
foreach(d IN LISTS mi_conf_expected)
  if(NOT d IN_LIST mi_conf_dirs)
    list(APPEND mi_conf_stale ${d})
  endif()
endforeach()
if(mi_conf_stale)
  add_test(NAME conformance.unsupported_list_is_current
    COMMAND ${CMAKE_COMMAND} -E echo "FAIL: listed in conformance_unsupported.txt but not a selected node test: ${mi_conf_stale}")
  set_tests_properties(conformance.unsupported_list_is_current PROPERTIES
    FAIL_REGULAR_EXPRESSION "FAIL:" LABELS conformance)
endif()
