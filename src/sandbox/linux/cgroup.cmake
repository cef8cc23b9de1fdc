# The cgroup module of the linux backend, part of agentd_sandbox (the linux
# backend creates a cgroup per sandbox). include()d from src/CMakeLists.txt.
target_sources(agentd_sandbox PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cgroup.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_files.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_v1.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgroup_v2.cpp)
add_library(agentd_sandbox_cgroup INTERFACE)
target_link_libraries(agentd_sandbox_cgroup INTERFACE agentd::sandbox)
add_library(agentd::sandbox_cgroup ALIAS agentd_sandbox_cgroup)
