#include "core/install_paths.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

TEST_CASE("install_paths_for: installed under a prefix, or a build tree", "[install_paths]") {
    SECTION("the /usr prefix reads /etc") {
        InstallPaths p = install_paths_for("/usr/bin/pushd");
        CHECK(p.config == "/etc/pushd/pushd.yaml");
        CHECK(p.environment == "/etc/default/pushd");
    }
    SECTION("any other prefix reads <prefix>/etc") {
        CHECK(install_paths_for("/usr/local/bin/pushctl").config == "/usr/local/etc/pushd/pushd.yaml");
        CHECK(install_paths_for("/opt/pushd/bin/pushd").environment == "/opt/pushd/etc/default/pushd");
        CHECK(install_paths_for("/bin/pushd").config == "/etc/pushd/pushd.yaml");
    }
    SECTION("a build tree (or an unknown path) reads etc/pushd.yaml from the working directory") {
        CHECK(install_paths_for("/work/pushd/build/pushd").config == "etc/pushd.yaml");
        CHECK(install_paths_for("/work/pushd/build/pushd").environment.empty());
        CHECK(install_paths_for("").config == "etc/pushd.yaml");
        CHECK(install_paths_for("pushd").config == "etc/pushd.yaml");
    }
}

TEST_CASE("parse_environment_file: systemd's KEY=VALUE lines", "[install_paths]") {
    auto v = parse_environment_file(
        "# comment\n; another\n\nPUSHD_PORT=9000\n  PUSHD_NAME = a b  \nQ=\"quoted value\"\n"
        "S='single'\nnoequals\n=novalue\nEMPTY=\r\nLAST=x");
    using P = std::pair<std::string, std::string>;
    CHECK(v == std::vector<P>{{"PUSHD_PORT", "9000"},
                              {"PUSHD_NAME", "a b"},
                              {"Q", "quoted value"},
                              {"S", "single"},
                              {"EMPTY", ""},
                              {"LAST", "x"}});
}
