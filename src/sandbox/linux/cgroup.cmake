# The cgroup module of the linux backend (include()d from src/CMakeLists.txt).
add_library(agentd_sandbox_cgroup STATIC
  ${CMAKE_CURRENT_LIST_DIR}/cgroup.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_files.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_v1.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_v2.cpp)
target_link_libraries(agentd_sandbox_cgroup PUBLIC agentd::sandbox)
add_library(agentd::sandbox_cgroup ALIAS agentd_sandbox_cgroup)
