#pragma once

// The standard commands of a resource, made from a description of it (the methods follow
// the API conventions, so one implementation serves every resource): list (every page, or
// --limit), get, create -f FILE, delete, and its state changes ("deliver", "cancel", …), each
// a method that takes the resource's name, its etag (read first when not given) and a few
// fields from flags or a file.
#include <string>
#include <string_view>
#include <vector>

#include "tools/outreachctl/cli.h"

namespace outreach::ctl {

// A request field set from a flag: --<flag> VALUE sets <field> (see SetField).
struct FieldFlag {
  std::string flag;
  std::string field;
  std::string value_name;
  std::string help;
};

struct VerbSpec {
  std::string verb;    // command word, e.g. "deliver"
  std::string method;  // e.g. "DeliverWorkshop"
  std::string summary;
  std::vector<FieldFlag> fields;
  // -f FILE: the request field it fills (e.g. "delivery"); "" for the whole request. Only with
  // `file`.
  bool file = false;
  bool file_required = false;
  std::string file_field;
  std::string description;
};

struct ResourceSpec {
  std::vector<std::string> group;  // command words, e.g. {"workshops"} or {"training", "officers"}
  std::string service;             // e.g. "outreach.workshops.v1.WorkshopsService"
  std::string singular;            // method suffix, e.g. "Workshop"
  std::string plural;              // method suffix, e.g. "Workshops"
  std::string collection;          // name segment, e.g. "workshops"
  std::string parent_collection;   // for nested resources, e.g. "courses"; "" under the force
  std::string parent_flag;         // e.g. "course"
  std::string create_method;       // default "Create<singular>"; "" = no create
  bool has_get = true;
  bool has_delete = true;
  std::vector<Column> columns;  // table/csv of list
  std::string list_notes;       // e.g. the filter and order fields
  std::vector<VerbSpec> verbs;
  bool has_update = true;  // Update<singular> with a FieldMask
};

void AddResource(Registry& registry, const ResourceSpec& spec);
// "training officers"
std::string PathOf(const ResourceSpec& spec);

// A full resource name from what an operator typed: "forces/…" as is, else the id under the
// force (and the parent given with --<parent_flag>, or as "parent/child").
absl::StatusOr<std::string> ExpandName(const Context& ctx, const std::string& arg,
                                       const std::string& collection,
                                       const std::string& parent_collection,
                                       const std::string& parent);

// Every page of a List method into one response (repeated items appended, next_page_token
// cleared), stopping after `limit` items (0 = all). `request` has parent/filter/order set.
// Shows "listing …: n of total" while it pages, on a terminal.
int ListAll(Context& ctx, const std::string& what, const google::protobuf::MethodDescriptor* method,
            google::protobuf::Message* request, int64_t limit, google::protobuf::Message* merged);

// The repeated message field of a List response holding the items (the first such field).
const google::protobuf::FieldDescriptor* ItemsField(const google::protobuf::Descriptor* response);

// A stable request_id from the parts that identify a write (method, name, file contents):
// re-running the same command with the same file returns the first result, never a duplicate.
std::string RequestIdFor(const std::vector<std::string_view>& parts);

// Writes a list response: the whole (merged) response for json/yaml, rows otherwise.
void PrintList(Context& ctx, const google::protobuf::Message& merged,
               const std::vector<Column>& columns);

// --page-size, --filter, --order-by, --limit.
std::vector<FlagSpec> ListFlags();
// --limit as a number (0 = all); false and a usage message when it is not.
bool ParseLimit(Context& ctx, int64_t* limit, int* code);

}  // namespace outreach::ctl
