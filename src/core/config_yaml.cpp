// YAML -> Config: loads the text with libyaml's document API, walks the
// mappings the key table knows, converts and bounds-checks every value,
// and reports the first problem as "file:line:col: Key.Path: message".
// Keys the table does not know are warnings, once per key at the level
// where they are unknown.
#include "core/config_yaml.hpp"

#include <yaml.h>

#include <memory>
#include <unordered_map>

namespace pushd::config_detail {

namespace {

struct ParserFree {
    void operator()(yaml_parser_t* p) const {
        yaml_parser_delete(p);
        delete p;
    }
};
struct DocumentFree {
    // Safe on a document yaml_parser_load already deleted: that zeroes it.
    void operator()(yaml_document_t* d) const {
        yaml_document_delete(d);
        delete d;
    }
};
using ParserPtr = std::unique_ptr<yaml_parser_t, ParserFree>;
using DocumentPtr = std::unique_ptr<yaml_document_t, DocumentFree>;

std::string position(const std::string& source, size_t line0, size_t column0) {
    return source + ":" + std::to_string(line0 + 1) + ":" + std::to_string(column0 + 1);
}

std::string position(const std::string& source, const yaml_mark_t& mark) {
    return position(source, mark.line, mark.column);
}

// Line and column of a byte offset (libyaml's reader errors give only that).
std::string position_of_offset(const std::string& source, std::string_view text, size_t offset) {
    size_t line = 0;
    size_t column = 0;
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 0;
        } else {
            ++column;
        }
    }
    return position(source, line, column);
}

// The one-line description of a libyaml failure.
std::string syntax_error(const yaml_parser_t& p, const std::string& source, std::string_view text) {
    const char* problem = p.problem ? p.problem : "unknown problem";
    switch (p.error) {
    case YAML_MEMORY_ERROR: return source + ": YAML error: out of memory";
    case YAML_READER_ERROR: return position_of_offset(source, text, p.problem_offset) + ": YAML error: " + problem;
    default: break;
    }
    std::string out = position(source, p.problem_mark) + ": YAML syntax error: " + problem;
    if (p.context) {
        out += " (" + std::string(p.context) + " at line " + std::to_string(p.context_mark.line + 1) + ", column " +
               std::to_string(p.context_mark.column + 1) + ")";
    }
    return out;
}

std::string_view scalar_text(const yaml_node_t* node) {
    return {reinterpret_cast<const char*>(node->data.scalar.value), node->data.scalar.length};
}

bool is_plain(const yaml_node_t* node) {
    return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

// YAML's null: an empty plain scalar, "~" or null/Null/NULL.
bool is_null(const yaml_node_t* node) {
    if (!is_plain(node)) return false;
    std::string_view t = scalar_text(node);
    return t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL";
}

// "a list", "a mapping", "an empty value", "a quoted string '8889'", "'abc'".
std::string describe(const KeySpec* spec, const yaml_node_t* node) {
    switch (node->type) {
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SCALAR_NODE: break;
    default: return "nothing";
    }
    if (is_null(node)) return "an empty value";
    std::string quoted = quote_for_message(scalar_text(node), spec != nullptr && spec->secret);
    return is_plain(node) ? quoted : "a quoted string " + quoted;
}

// One pass over the loaded document; holds what every step needs.
class Walker {
public:
    Walker(yaml_document_t* doc, LoadState& state) : doc_(doc), st_(state) {}

    // Walks the root mapping. Returns the first error line, or nullopt.
    Status walk_root(yaml_node_t* root) {
        if (root == nullptr || is_null(root)) return {};  // empty file
        if (root->type != YAML_MAPPING_NODE) {
            return Status::fail(at(root) + ": expected a mapping of keys at the top level, got " +
                                describe(nullptr, root));
        }
        return walk_mapping(root, "");
    }

private:
    yaml_node_t* node(int index) { return yaml_document_get_node(doc_, index); }

    std::string at(const yaml_node_t* n) const { return position(st_.source, n->start_mark); }

    std::string fail(const yaml_node_t* n, std::string_view key, const std::string& msg) const {
        return at(n) + ": " + std::string(key) + ": " + msg;
    }

    // Walks one mapping whose keys are `prefix` + "." + key.
    Status walk_mapping(yaml_node_t* map, const std::string& prefix) {
        std::unordered_map<std::string, yaml_mark_t> seen;
        for (yaml_node_pair_t* pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; ++pair) {
            yaml_node_t* key = node(pair->key);
            yaml_node_t* value = node(pair->value);
            if (key == nullptr || value == nullptr) continue;
            if (key->type != YAML_SCALAR_NODE) {
                st_.warnings.push_back(at(key) + ": " + (prefix.empty() ? "" : prefix + ": ") +
                                       "a key that is not a string, ignored");
                continue;
            }
            std::string name(scalar_text(key));
            std::string dotted = prefix.empty() ? name : prefix + "." + name;

            auto [it, inserted] = seen.emplace(name, key->start_mark);
            if (!inserted) {
                return Status::fail(fail(key, dotted,
                                         "duplicate key (first at line " + std::to_string(it->second.line + 1) +
                                             ", column " + std::to_string(it->second.column + 1) + ")"));
            }

            // "Security.TLS.Cert: x" written as one key is not the nested key.
            bool simple = name.find('.') == std::string::npos;
            if (const KeySpec* spec = simple ? find_key(dotted) : nullptr) {
                if (Status err = assign(*spec, value); !err.ok()) return err;
            } else if (simple && is_section(dotted)) {
                if (is_null(value)) continue;  // "Security:" with every child commented out
                if (value->type != YAML_MAPPING_NODE) {
                    return Status::fail(fail(value, dotted, "expected a mapping, got " + describe(nullptr, value)));
                }
                if (Status err = walk_mapping(value, dotted); !err.ok()) return err;
            } else {
                warn_unknown(key, dotted, simple);
            }
        }
        return {};
    }

    void warn_unknown(const yaml_node_t* key, const std::string& dotted, bool simple) {
        std::string msg = at(key) + ": " + dotted + ": unknown key, ignored";
        if (!simple) {
            msg += " (write nested keys as mappings, not dotted names)";
        } else if (const KeySpec* near = find_key_ignoring_case(dotted)) {
            msg += " (did you mean " + std::string(near->name) + "?)";
        } else if (is_section_ignoring_case(dotted)) {
            msg += " (key names are case-sensitive)";
        }
        st_.warnings.push_back(std::move(msg));
    }

    static bool is_section_ignoring_case(std::string_view dotted) {
        for (const KeySpec& spec : config_keys()) {
            std::string_view name = spec.name;
            if (name.size() <= dotted.size() || name[dotted.size()] != '.') continue;
            if (equal_ignoring_case(name.substr(0, dotted.size()), dotted)) return true;
        }
        return false;
    }

    // Converts `value` for the row and stores it in the fresh config.
    Status assign(const KeySpec& spec, yaml_node_t* value) {
        size_t index = static_cast<size_t>(&spec - config_keys().data());
        ValueOrigin origin{true, at(value), {}};
        Config& cfg = st_.config;

        switch (spec.kind()) {
        case KeyKind::Int: {
            if (!is_plain(value) || is_null(value)) {
                return Status::fail(fail(value, spec.name, "expected an integer, got " + describe(&spec, value)));
            }
            int64_t v = 0;
            if (Status err = parse_int_value(spec, scalar_text(value), v); !err.ok()) {
                return Status::fail(fail(value, spec.name, err.error()));
            }
            spec.int_ref(cfg) = v;
            break;
        }
        case KeyKind::Bool: {
            if (!is_plain(value) || is_null(value)) {
                return Status::fail(fail(value, spec.name, "expected true or false, got " + describe(&spec, value)));
            }
            bool v = false;
            if (Status err = parse_bool_value(scalar_text(value), v); !err.ok()) {
                return Status::fail(fail(value, spec.name, err.error()));
            }
            spec.bool_ref(cfg) = v;
            break;
        }
        case KeyKind::String: {
            if (value->type != YAML_SCALAR_NODE) {
                return Status::fail(fail(value, spec.name, "expected a string, got " + describe(&spec, value)));
            }
            std::string_view text = is_null(value) ? std::string_view() : scalar_text(value);
            if (Status err = check_text_value(text); !err.ok())
                return Status::fail(fail(value, spec.name, err.error()));
            spec.string_ref(cfg) = std::string(text);
            break;
        }
        case KeyKind::StringList: {
            StringList items;
            if (value->type == YAML_SEQUENCE_NODE) {
                if (Status err = read_list(spec, value, items, origin.items); !err.ok()) return err;
            } else if (!is_null(value)) {
                return Status::fail(
                    fail(value, spec.name, "expected a list of strings, got " + describe(&spec, value)));
            }
            spec.list_ref(cfg) = std::move(items);
            break;
        }
        }
        st_.origins[index] = std::move(origin);
        return {};
    }

    // Reads a sequence of scalars into `items`, each item's position into `where`.
    Status read_list(const KeySpec& spec, yaml_node_t* seq, StringList& items, std::vector<std::string>& where) {
        size_t n = 0;
        for (yaml_node_item_t* item = seq->data.sequence.items.start; item < seq->data.sequence.items.top; ++item) {
            ++n;
            yaml_node_t* element = node(*item);
            if (element == nullptr) continue;
            std::string label = "item " + std::to_string(n) + " ";
            if (element->type != YAML_SCALAR_NODE || is_null(element)) {
                return Status::fail(
                    fail(element, spec.name, label + "expected a string, got " + describe(&spec, element)));
            }
            std::string_view text = scalar_text(element);
            if (Status err = check_text_value(text); !err.ok())
                return Status::fail(fail(element, spec.name, label + err.error()));
            items.emplace_back(text);
            where.push_back(at(element));
        }
        return {};
    }

    yaml_document_t* doc_;
    LoadState& st_;
};

}  // namespace

Status apply_yaml(std::string_view yaml, LoadState& state) {
    ParserPtr parser(new yaml_parser_t{});
    if (!yaml_parser_initialize(parser.get())) return Status::fail(state.source + ": YAML error: out of memory");
    yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(yaml.data()), yaml.size());

    // Load every document first: a syntax error anywhere wins over the rest.
    DocumentPtr doc(new yaml_document_t{});
    if (!yaml_parser_load(parser.get(), doc.get())) {
        return Status::fail(syntax_error(*parser, state.source, yaml));
    }
    for (;;) {
        DocumentPtr extra(new yaml_document_t{});
        if (!yaml_parser_load(parser.get(), extra.get())) {
            return Status::fail(syntax_error(*parser, state.source, yaml));
        }
        yaml_node_t* root = yaml_document_get_root_node(extra.get());
        if (root == nullptr) break;  // end of stream
        if (!is_null(root)) {
            return Status::fail(position(state.source, root->start_mark) +
                                ": only one YAML document is allowed in a configuration file");
        }
    }

    Walker walker(doc.get(), state);
    return walker.walk_root(yaml_document_get_root_node(doc.get()));
}

}  // namespace pushd::config_detail
