#include "tools/outreachctl/resources.h"

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"

namespace outreach::ctl {

namespace pb = google::protobuf;

namespace {

std::unique_ptr<pb::Message> NewMessage(const pb::Descriptor* type) {
  return std::unique_ptr<pb::Message>(
      pb::MessageFactory::generated_factory()->GetPrototype(type)->New());
}

const pb::FieldDescriptor* StringField(const pb::Message& m, const char* name) {
  const auto* f = m.GetDescriptor()->FindFieldByName(name);
  return f != nullptr && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING && !f->is_repeated()
             ? f
             : nullptr;
}

void SetString(pb::Message* m, const char* name, const std::string& value) {
  if (const auto* f = StringField(*m, name)) m->GetReflection()->SetString(m, f, value);
}

std::string GetString(const pb::Message& m, const char* name) {
  const auto* f = StringField(m, name);
  return f != nullptr ? m.GetReflection()->GetString(m, f) : "";
}

std::string MethodName(const ResourceSpec& spec, const std::string& name) {
  return absl::StrCat(spec.service, ".", name);
}

// The parent of a list or create: the force, or the nested parent from --<parent_flag>.
absl::StatusOr<std::string> ParentOf(const Context& ctx, const ResourceSpec& spec) {
  if (spec.parent_collection.empty()) return ctx.ForceParent();
  const std::string parent = ctx.args.Get(spec.parent_flag);
  if (parent.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", spec.parent_flag, " is required"));
  }
  if (absl::StartsWith(parent, "forces/")) return parent;
  return absl::StrCat(ctx.ForceParent(), "/", spec.parent_collection, "/", parent);
}

// The one positional argument NAME, expanded.
absl::StatusOr<std::string> NameArg(const Context& ctx, const ResourceSpec& spec) {
  if (ctx.args.positional.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected one NAME (an id such as ",
                     spec.collection == "workshops" ? "y9-sexting-example-academy" : "my-id",
                     ", or a full forces/… name)"));
  }
  return ExpandName(ctx, ctx.args.positional[0], spec.collection, spec.parent_collection,
                    spec.parent_flag.empty() ? "" : ctx.args.Get(spec.parent_flag));
}

int RunList(Context& ctx, const ResourceSpec& spec) {
  if (!ctx.args.positional.empty()) return ctx.Usage("list takes no arguments (use --filter)");
  const auto* method = ctl::Method(MethodName(spec, "List" + spec.plural));
  auto request = NewMessage(method->input_type());
  auto parent = ParentOf(ctx, spec);
  if (!parent.ok()) return ctx.Usage(std::string(parent.status().message()));
  SetString(request.get(), "parent", *parent);
  SetString(
      request.get(), "filter",
      NormalizeFilter(ItemsField(method->output_type())->message_type(), ctx.args.Get("filter")));
  SetString(request.get(), "order_by", ctx.args.Get("order-by"));
  if (ctx.args.Has("page-size")) {
    if (auto s = SetField(request.get(), "page_size", ctx.args.Get("page-size")); !s.ok()) {
      return ctx.Usage(absl::StrCat("--page-size: ", s.message()));
    }
  }
  int64_t limit = 0;
  int code = 0;
  if (!ParseLimit(ctx, &limit, &code)) return code;
  if (limit > 0 && limit < 500 && !ctx.args.Has("page-size")) {  // no more than is wanted
    (void)SetField(request.get(), "page_size", absl::StrCat(limit));
  }
  auto merged = NewMessage(method->output_type());
  code = ListAll(ctx, PathOf(spec) + " list", method, request.get(), limit, merged.get());
  if (code != kExitOk) return code;
  PrintList(ctx, *merged, spec.columns);
  return kExitOk;
}

int RunGet(Context& ctx, const ResourceSpec& spec) {
  auto name = NameArg(ctx, spec);
  if (!name.ok()) return ctx.Usage(std::string(name.status().message()));
  const auto* method = ctl::Method(MethodName(spec, "Get" + spec.singular));
  auto request = NewMessage(method->input_type());
  SetString(request.get(), "name", *name);
  auto response = NewMessage(method->output_type());
  Outcome outcome = ctx.connection->Call(method, *request, response.get());
  if (!outcome.ok()) return ctx.Fail(PathOf(spec) + " get " + *name, method, outcome);
  *ctx.out << RenderMessage(ctx.format, *response, ctx.width);
  return kExitOk;
}

int RunCreate(Context& ctx, const ResourceSpec& spec) {
  if (!ctx.args.positional.empty())
    return ctx.Usage("create takes no arguments (use -f FILE and --id)");
  if (!ctx.args.Has("file")) return ctx.Usage("create needs -f FILE (JSON, or YAML)");
  const auto* method = ctl::Method(MethodName(spec, spec.create_method));
  auto request = NewMessage(method->input_type());
  // The resource field is the one of the resource's type; its id field ends in _id.
  const pb::FieldDescriptor* body = nullptr;
  const pb::FieldDescriptor* id = nullptr;
  for (int i = 0; i < request->GetDescriptor()->field_count(); ++i) {
    const auto* f = request->GetDescriptor()->field(i);
    if (f->message_type() == method->output_type()) body = f;
    if (absl::EndsWith(f->name(), "_id") && f->name() != "request_id") id = f;
  }
  if (body == nullptr)
    return ctx.Problem("internal error: no resource field in the create request", kExitError);
  std::string contents;
  if (auto s =
          ReadMessageFile(ctx.args.Get("file"),
                          request->GetReflection()->MutableMessage(request.get(), body), &contents);
      !s.ok()) {
    return ctx.Usage(std::string(s.message()));
  }
  auto parent = ParentOf(ctx, spec);
  if (!parent.ok()) return ctx.Usage(std::string(parent.status().message()));
  SetString(request.get(), "parent", *parent);
  if (id != nullptr && ctx.args.Has("id"))
    request->GetReflection()->SetString(request.get(), id, ctx.args.Get("id"));
  SetString(request.get(), "request_id",
            ctx.args.Get("request-id", RequestIdFor({method->full_name(), *parent,
                                                     ctx.args.Get("id"), contents})));
  auto response = NewMessage(method->output_type());
  Outcome outcome = ctx.connection->Call(method, *request, response.get());
  if (!outcome.ok()) return ctx.Fail(PathOf(spec) + " create", method, outcome);
  *ctx.out << RenderMessage(ctx.format, *response, ctx.width);
  return kExitOk;
}

// Reads the resource to learn its current etag.
int FetchEtag(Context& ctx, const ResourceSpec& spec, const std::string& name, std::string* etag) {
  const auto* get = ctl::Method(MethodName(spec, "Get" + spec.singular));
  auto request = NewMessage(get->input_type());
  SetString(request.get(), "name", name);
  auto current = NewMessage(get->output_type());
  Outcome outcome = ctx.connection->Call(get, *request, current.get());
  if (!outcome.ok()) return ctx.Fail(absl::StrCat(PathOf(spec), " get ", name), get, outcome);
  *etag = GetString(*current, "etag");
  return kExitOk;
}

// Update<singular>: the fields in the file (or --update-mask) replace the stored ones.
int RunUpdate(Context& ctx, const ResourceSpec& spec) {
  auto name = NameArg(ctx, spec);
  if (!name.ok()) return ctx.Usage(std::string(name.status().message()));
  if (!ctx.args.Has("file")) return ctx.Usage("update needs -f FILE with the fields to change");
  const auto* method = ctl::Method(MethodName(spec, "Update" + spec.singular));
  auto request = NewMessage(method->input_type());
  const pb::FieldDescriptor* body = nullptr;
  for (int i = 0; i < request->GetDescriptor()->field_count(); ++i) {
    const auto* f = request->GetDescriptor()->field(i);
    if (f->message_type() == method->output_type()) body = f;
  }
  const auto* mask_field = request->GetDescriptor()->FindFieldByName("update_mask");
  if (body == nullptr || mask_field == nullptr) {
    return ctx.Problem("internal error: not an update request", kExitError);
  }
  pb::Message* resource = request->GetReflection()->MutableMessage(request.get(), body);
  std::string contents;
  if (auto s = ReadMessageFile(ctx.args.Get("file"), resource, &contents); !s.ok()) {
    return ctx.Usage(std::string(s.message()));
  }
  std::vector<std::string> paths;
  if (ctx.args.Has("update-mask")) {
    paths = absl::StrSplit(ctx.args.Get("update-mask"), ',', absl::SkipWhitespace());
  } else {
    std::vector<const pb::FieldDescriptor*> set;
    resource->GetReflection()->ListFields(*resource, &set);
    for (const auto* f : set) {
      if (f->name() != "name" && f->name() != "etag") paths.push_back(f->name());
    }
  }
  if (paths.empty())
    return ctx.Usage("nothing to update: the file sets no field (use --update-mask for zeros)");
  SetString(resource, "name", *name);
  std::string etag = ctx.args.Get("etag");
  if (etag.empty()) {
    if (int code = FetchEtag(ctx, spec, *name, &etag); code != kExitOk) return code;
  }
  SetString(resource, "etag", etag);
  pb::Message* mask = request->GetReflection()->MutableMessage(request.get(), mask_field);
  const auto* mask_paths = mask->GetDescriptor()->FindFieldByName("paths");
  for (const auto& p : paths)
    mask->GetReflection()->AddString(mask, mask_paths, std::string(absl::StripAsciiWhitespace(p)));
  auto response = NewMessage(method->output_type());
  Outcome outcome = ctx.connection->Call(method, *request, response.get());
  if (!outcome.ok())
    return ctx.Fail(absl::StrCat(PathOf(spec), " update ", *name), method, outcome);
  *ctx.out << RenderMessage(ctx.format, *response, ctx.width);
  return kExitOk;
}

int RunVerb(Context& ctx, const ResourceSpec& spec, const VerbSpec& verb) {
  auto name = NameArg(ctx, spec);
  if (!name.ok()) return ctx.Usage(std::string(name.status().message()));
  const auto* method = ctl::Method(MethodName(spec, verb.method));
  auto request = NewMessage(method->input_type());
  std::string contents;
  if (verb.file && ctx.args.Has("file")) {
    pb::Message* target = request.get();
    if (!verb.file_field.empty()) {
      const auto* f = request->GetDescriptor()->FindFieldByName(verb.file_field);
      target = request->GetReflection()->MutableMessage(request.get(), f);
    }
    if (auto s = ReadMessageFile(ctx.args.Get("file"), target, &contents); !s.ok()) {
      return ctx.Usage(std::string(s.message()));
    }
  } else if (verb.file_required) {
    return ctx.Usage(absl::StrCat(verb.verb, " needs -f FILE"));
  }
  for (const auto& field : verb.fields) {
    if (!ctx.args.Has(field.flag)) continue;
    if (auto s = SetField(request.get(), field.field, ctx.args.Get(field.flag)); !s.ok()) {
      return ctx.Usage(absl::StrCat("--", field.flag, ": ", s.message()));
    }
  }
  SetString(request.get(), "name", *name);
  if (StringField(*request, "etag") != nullptr) {
    std::string etag = ctx.args.Get("etag");
    if (etag.empty() && spec.has_get) {
      if (int code = FetchEtag(ctx, spec, *name, &etag); code != kExitOk) return code;
    }
    SetString(request.get(), "etag", etag);
  }
  if (StringField(*request, "request_id") != nullptr && GetString(*request, "request_id").empty()) {
    SetString(request.get(), "request_id",
              ctx.args.Get("request-id", RequestIdFor({method->full_name(), *name, contents})));
  }
  auto response = NewMessage(method->output_type());
  Outcome outcome = ctx.connection->Call(method, *request, response.get());
  if (!outcome.ok())
    return ctx.Fail(absl::StrCat(PathOf(spec), " ", verb.verb, " ", *name), method, outcome);
  if (response->GetDescriptor()->full_name() == "google.protobuf.Empty") {
    *ctx.out << verb.verb << ": " << *name << "\n";
  } else {
    *ctx.out << RenderMessage(ctx.format, *response, ctx.width);
  }
  return kExitOk;
}

}  // namespace

std::string PathOf(const ResourceSpec& spec) { return absl::StrJoin(spec.group, " "); }

std::vector<FlagSpec> ListFlags() {
  return {{"filter", "EXPR", "AIP-160 filter, e.g. 'state = \"DELIVERED\"'"},
          {"order-by", "FIELDS", "order, e.g. start_time or 'start_time desc'"},
          {"page-size", "N", "items per call (default: the server's, 50)"},
          {"limit", "N", "stop after N items (default: every page)"}};
}

bool ParseLimit(Context& ctx, int64_t* limit, int* code) {
  *limit = 0;
  if (!ctx.args.Has("limit")) return true;
  if (!absl::SimpleAtoi(ctx.args.Get("limit"), limit) || *limit < 1) {
    *code =
        ctx.Usage(absl::StrCat("--limit: \"", ctx.args.Get("limit"), "\" is not a number from 1"));
    return false;
  }
  return true;
}

absl::StatusOr<std::string> ExpandName(const Context& ctx, const std::string& arg,
                                       const std::string& collection,
                                       const std::string& parent_collection,
                                       const std::string& parent) {
  if (absl::StartsWith(arg, "forces/")) return arg;
  if (arg.empty()) return absl::InvalidArgumentError("an empty NAME");
  if (parent_collection.empty()) {
    if (absl::StrContains(arg, "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", arg, "\": give an id or a full forces/… name"));
    }
    return absl::StrCat(ctx.ForceParent(), "/", collection, "/", arg);
  }
  if (!parent.empty() && !absl::StrContains(arg, "/")) {
    const std::string p =
        absl::StartsWith(parent, "forces/")
            ? parent
            : absl::StrCat(ctx.ForceParent(), "/", parent_collection, "/", parent);
    return absl::StrCat(p, "/", collection, "/", arg);
  }
  const size_t slash = arg.find('/');
  if (slash == std::string::npos || arg.find('/', slash + 1) != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", arg, "\": give PARENT/ID or a full forces/… name"));
  }
  return absl::StrCat(ctx.ForceParent(), "/", parent_collection, "/", arg.substr(0, slash), "/",
                      collection, "/", arg.substr(slash + 1));
}

const pb::FieldDescriptor* ItemsField(const pb::Descriptor* response) {
  for (int i = 0; i < response->field_count(); ++i) {
    const auto* f = response->field(i);
    if (f->is_repeated() && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) return f;
  }
  return nullptr;
}

int ListAll(Context& ctx, const std::string& what, const pb::MethodDescriptor* method,
            pb::Message* request, int64_t limit, pb::Message* merged) {
  const auto* items = ItemsField(method->output_type());
  const auto* total_field = method->output_type()->FindFieldByName("total_size");
  Progress progress(*ctx.err, ctx.interactive);
  auto page = NewMessage(method->output_type());
  int64_t have = 0;
  while (true) {
    page->Clear();
    Outcome outcome = ctx.connection->Call(method, *request, page.get());
    if (!outcome.ok()) return ctx.Fail(what, method, outcome);
    const auto* r = page->GetReflection();
    const int n = r->FieldSize(*page, items);
    for (int i = 0; i < n && (limit == 0 || have < limit); ++i, ++have) {
      merged->GetReflection()
          ->AddMessage(merged, items)
          ->CopyFrom(r->GetRepeatedMessage(*page, items, i));
    }
    if (total_field != nullptr) {
      merged->GetReflection()->SetInt32(merged, total_field, r->GetInt32(*page, total_field));
      progress.Update(absl::StrFormat("%s: %d of %d", what, have, r->GetInt32(*page, total_field)));
    }
    const std::string token = GetString(*page, "next_page_token");
    if (token.empty() || (limit != 0 && have >= limit)) break;
    SetString(request, "page_token", token);
  }
  return kExitOk;
}

void PrintList(Context& ctx, const pb::Message& merged, const std::vector<Column>& columns) {
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    *ctx.out << RenderMessage(ctx.format, merged, ctx.width);
    return;
  }
  const auto* items = ItemsField(merged.GetDescriptor());
  std::vector<const pb::Message*> rows;
  const auto* r = merged.GetReflection();
  rows.reserve(static_cast<size_t>(r->FieldSize(merged, items)));
  for (int i = 0; i < r->FieldSize(merged, items); ++i)
    rows.push_back(&r->GetRepeatedMessage(merged, items, i));
  *ctx.out << RenderRows(ctx.format, columns, rows, ctx.width);
}

std::string RequestIdFor(const std::vector<std::string_view>& parts) {
  // FNV-1a, 64 bits: stable across runs and builds (std::hash is not).
  uint64_t h = 14695981039346656037ULL;
  for (std::string_view part : parts) {
    for (unsigned char c : part) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // separator, so ("ab","c") differs from ("a","bc")
    h *= 1099511628211ULL;
  }
  return absl::StrFormat("ctl-%016x", h);
}

void AddResource(Registry& registry, const ResourceSpec& spec) {
  auto with = [&](std::string verb) {
    std::vector<std::string> path = spec.group;
    path.push_back(std::move(verb));
    return path;
  };
  std::vector<FlagSpec> parent_flags;
  std::string parent_help;
  if (!spec.parent_flag.empty()) {
    parent_flags.push_back(
        {spec.parent_flag, "ID", absl::StrCat("the parent ", spec.parent_flag, " (id or name)")});
  }
  std::vector<FlagSpec> list_flags = ListFlags();
  list_flags.insert(list_flags.end(), parent_flags.begin(), parent_flags.end());
  registry.Add(Command{with("list"), "", absl::StrCat("list ", spec.collection, " (every page)"),
                       spec.list_notes, list_flags, true, "",
                       [spec](Context& ctx) { return RunList(ctx, spec); }});
  if (spec.has_get) {
    registry.Add(Command{with("get"), "NAME", absl::StrCat("show one of the ", spec.collection), "",
                         parent_flags, true, "",
                         [spec](Context& ctx) { return RunGet(ctx, spec); }});
  }
  if (!spec.create_method.empty()) {
    std::vector<FlagSpec> flags = parent_flags;
    flags.push_back(
        {"file", "FILE", "the new resource as JSON (protobuf mapping) or YAML; - for stdin", 'f'});
    flags.push_back({"id", "ID", "the new resource's id (generated when absent)"});
    flags.push_back({"request-id", "KEY", "idempotency key (default: derived from the file)"});
    registry.Add(Command{with("create"), "-f FILE",
                         absl::StrCat("create one of the ", spec.collection),
                         "A re-run with the same file returns the first result: the request_id is "
                         "derived from the file.",
                         flags, true, "", [spec](Context& ctx) { return RunCreate(ctx, spec); }});
  }
  if (spec.has_update) {
    std::vector<FlagSpec> flags = parent_flags;
    flags.push_back({"file", "FILE", "the fields to change, as JSON or YAML", 'f'});
    flags.push_back({"update-mask", "FIELDS", "fields to change (default: those the file sets)"});
    flags.push_back({"etag", "ETAG", "the etag to check (default: read it first)"});
    registry.Add(
        Command{with("update"), "NAME -f FILE",
                absl::StrCat("change fields of one of the ", spec.collection),
                "The fields set in FILE replace the stored ones; give --update-mask to set a "
                "field to zero or empty. A stale --etag is refused (exit 6).",
                flags, true, "", [spec](Context& ctx) { return RunUpdate(ctx, spec); }});
  }
  std::vector<VerbSpec> verbs = spec.verbs;
  if (spec.has_delete) {
    verbs.push_back(VerbSpec{"delete", "Delete" + spec.singular,
                             absl::StrCat("delete one of the ", spec.collection)});
  }
  for (const auto& verb : verbs) {
    std::vector<FlagSpec> flags = parent_flags;
    for (const auto& field : verb.fields)
      flags.push_back({field.flag, field.value_name, field.help});
    if (verb.file) {
      flags.push_back({"file", "FILE",
                       verb.file_field.empty()
                           ? "the request as JSON or YAML"
                           : absl::StrCat("the ", verb.file_field, " as JSON or YAML"),
                       'f'});
    }
    flags.push_back({"etag", "ETAG", "the etag to check (default: read it first)"});
    const auto* method = ctl::Method(MethodName(spec, verb.method));
    if (method->input_type()->FindFieldByName("request_id") != nullptr) {
      flags.push_back(
          {"request-id", "KEY", "idempotency key (default: derived from NAME and the file)"});
    }
    registry.Add(Command{with(verb.verb), verb.file_required ? "NAME -f FILE" : "NAME",
                         verb.summary, verb.description, flags, true, "",
                         [spec, verb](Context& ctx) { return RunVerb(ctx, spec, verb); }});
  }
}

}  // namespace outreach::ctl
