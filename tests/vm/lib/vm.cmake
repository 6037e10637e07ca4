# odo_add_vm_test(NAME n SCRIPT guest.sh [BINS targets...] [FILES src:dst...]
#                 [SHARE hostdir] [TIMEOUT s] [MEM mb] [LABELS extra...])
#
# Registers a CTest test (label `vm`) that boots the Debian test kernel in qemu
# through tests/vm/lib/vm-run and runs SCRIPT there with `bash -e`; the test's
# result is the script's exit status. BINS are CMake executable targets: each is
# copied into the VM at its build path (and /usr/local/bin/<name>) with the
# shared libraries it needs, and the test depends on them. FILES are
# SRC:/guest/path pairs (SRC relative to the current source dir; generator
# expressions allowed). SHARE is a host directory mounted read-write at
# /mnt/host in the guest (9p), created at configure time. TIMEOUT (default 300)
# bounds the VM run; CTest's own timeout is TIMEOUT + 120 for building the
# initramfs. See tests/vm/README.md.
include_guard(GLOBAL)
set(ODO_VM_RUN "${CMAKE_CURRENT_LIST_DIR}/vm-run" CACHE INTERNAL "")

function(odo_add_vm_test)
  cmake_parse_arguments(V "" "NAME;SCRIPT;SHARE;TIMEOUT;MEM" "BINS;FILES;LABELS" ${ARGN})
  if(NOT V_NAME OR NOT V_SCRIPT)
    message(FATAL_ERROR "odo_add_vm_test: NAME and SCRIPT are required")
  endif()
  if(NOT V_TIMEOUT)
    set(V_TIMEOUT 300)
  endif()
  get_filename_component(script "${V_SCRIPT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(cmd "${ODO_VM_RUN}" --name "${V_NAME}" --script "${script}" --timeout "${V_TIMEOUT}")
  foreach(t IN LISTS V_BINS)
    if(NOT TARGET ${t})
      message(FATAL_ERROR "odo_add_vm_test(${V_NAME}): BINS entry ${t} is not a target")
    endif()
    list(APPEND cmd --bin "$<TARGET_FILE:${t}>")
  endforeach()
  foreach(f IN LISTS V_FILES)
    # SRC:DST, split at the last colon (SRC may be a generator expression).
    string(FIND "${f}" ":" colon REVERSE)
    if(colon LESS 1)
      message(FATAL_ERROR "odo_add_vm_test(${V_NAME}): FILES entry ${f} is not SRC:DST")
    endif()
    string(SUBSTRING "${f}" 0 ${colon} src)
    math(EXPR after "${colon} + 1")
    string(SUBSTRING "${f}" ${after} -1 dst)
    if(NOT src MATCHES "^\\$<" AND NOT IS_ABSOLUTE "${src}")
      set(src "${CMAKE_CURRENT_SOURCE_DIR}/${src}")
    endif()
    list(APPEND cmd --file "${src}:${dst}")
  endforeach()
  if(V_SHARE)
    get_filename_component(share "${V_SHARE}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
    file(MAKE_DIRECTORY "${share}")
    list(APPEND cmd --share "${share}")
  endif()
  if(V_MEM)
    list(APPEND cmd --mem "${V_MEM}")
  endif()
  add_test(NAME ${V_NAME} COMMAND ${cmd})
  math(EXPR ctest_timeout "${V_TIMEOUT} + 120")
  set_tests_properties(${V_NAME} PROPERTIES
    LABELS "vm;${V_LABELS}"
    TIMEOUT ${ctest_timeout}
    PROCESSORS 1
    # a TCG guest's timing (ECU answers within a request timeout) does not survive a
    # second emulator or the soak on the other core: one heavy test at a time
    RESOURCE_LOCK cpu_heavy
    ENVIRONMENT "ODO_SOURCE_DIR=${PROJECT_SOURCE_DIR};ODO_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
