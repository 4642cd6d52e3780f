# libFuzzer builds (OUTREACH_FUZZ=ON, preset `fuzz`, scripts/fuzz.sh). Included before any
# target exists, so every library under test (ours and generated) gets coverage
# instrumentation and the sanitizers; only the fuzz executables link libFuzzer's main.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "OUTREACH_FUZZ needs clang: -DCMAKE_CXX_COMPILER=clang++ (preset fuzz)")
endif()
# -fno-sanitize-recover: a UBSan finding must abort, or libFuzzer never sees it as a crash.
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)

# outreach_fuzz_target(<name> SOURCES ... LIBS ...)
# One libFuzzer binary, plus a CTest test (label fuzz) that runs it once over its committed seed
# corpus tests/fuzz/corpus/<name>/ (and the filter dictionary when given DICT).
function(outreach_fuzz_target name)
  cmake_parse_arguments(ARG "" "DICT" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  outreach_target_defaults(${name})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  set(corpus "${CMAKE_CURRENT_SOURCE_DIR}/corpus/${name}")
  add_test(NAME ${name} COMMAND ${name} -runs=0 "${corpus}")
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endfunction()
