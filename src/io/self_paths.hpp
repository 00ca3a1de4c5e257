// The install layout of the running program (core/install_paths applied to
// /proc/self/exe), and the environment its configuration is loaded with.
#pragma once

#include "core/config.hpp"
#include "core/install_paths.hpp"

namespace pushd {

// The layout of this program: installed (<prefix>/bin) or a build tree.
// When /proc/self/exe cannot be read, the build-tree layout.
InstallPaths self_install_paths();

// The process environment, falling back to the assignments of the
// EnvironmentFile at `path` for variables the process does not set (the
// unit's /etc/default/pushd, so that an operator's pushctl sees the secrets
// pushd gets from systemd). A missing or unreadable file, or an empty
// `path`, adds nothing: the configuration's own error then says what is
// missing.
EnvLookup env_with_file(const std::string& path);

}  // namespace pushd
