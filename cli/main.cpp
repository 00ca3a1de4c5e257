// pushctl: the operators' tool. Subcommands arrive with the pushctl issue;
// until then it answers --version and --help.
#include <CLI/CLI.hpp>

#include <string>

int main(int argc, char** argv) {
    CLI::App app{"pushctl: operate pushd instances"};
    app.set_version_flag("-v,--version", std::string("pushctl ") + PUSHD_VERSION);
    app.require_subcommand(0);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }
    return 0;
}
