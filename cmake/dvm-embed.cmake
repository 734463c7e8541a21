# dvm_embed_files(OUTPUT <file.cpp> FUNCTION <name> FILES <files...>)
#
# Compiles data files (recipes, init templates) into the library, so one `dvm` binary works with
# no install tree. The generated source defines
#   std::span<const dvm::detail::embedded_file> <name>();
# with one entry per file: its base name without extension, and its bytes.
set(_dvm_embed_script "${CMAKE_CURRENT_LIST_DIR}/dvm-embed-generate.cmake")

function(dvm_embed_files)
  cmake_parse_arguments(ARG "" "OUTPUT;FUNCTION" "FILES" ${ARGN})
  list(JOIN ARG_FILES "|" _files)
  add_custom_command(
    OUTPUT "${ARG_OUTPUT}"
    COMMAND "${CMAKE_COMMAND}" "-DOUTPUT=${ARG_OUTPUT}" "-DFUNCTION=${ARG_FUNCTION}"
            "-DFILES=${_files}" -P "${_dvm_embed_script}"
    DEPENDS ${ARG_FILES} "${_dvm_embed_script}"
    COMMENT "Embedding ${ARG_FUNCTION} data"
    VERBATIM)
endfunction()
