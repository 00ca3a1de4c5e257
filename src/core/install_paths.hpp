// Where an installed pushd/pushctl finds its files, worked out from the
// program's own path so that one binary serves every install prefix (the
// prefix is chosen at `make install` time, after the build). Pure: the
// caller passes the path (io/self_paths reads /proc/self/exe).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pushd {

// The files of one layout.
struct InstallPaths {
    std::string config;       // the YAML configuration
    std::string environment;  // the EnvironmentFile of the unit ("" in a build tree)
};

// The layout for a program at `exe_path` (absolute). A program in
// <prefix>/bin is installed: sysconfdir is /etc for the /usr prefix and
// <prefix>/etc otherwise (as CMake's GNUInstallDirs and our install rules
// say), so it reads <sysconfdir>/pushd/pushd.yaml and
// <sysconfdir>/default/pushd. Anything else (a build tree) reads
// etc/pushd.yaml relative to the working directory and no environment file.
InstallPaths install_paths_for(std::string_view exe_path);

// The assignments of a systemd EnvironmentFile's text, in order: KEY=VALUE
// lines; blank lines and lines starting with '#' or ';' are skipped;
// whitespace around the key and the value is dropped, and one pair of
// matching single or double quotes around the value is removed. Lines
// without '=' or with an empty key are skipped (as systemd does).
std::vector<std::pair<std::string, std::string>> parse_environment_file(std::string_view text);

}  // namespace pushd
