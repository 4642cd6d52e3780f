#include "services/workshops/store.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/etag.h"
#include "common/query.h"
#include "common/status_macros.h"
#include "common/store_kit.h"
#include "common/store_support.h"

// Storage layout (common/store_kit.h): one table per resource, keyed by (force, id), with the
// columns that filters, ordering and rule checks need (times as INTEGER microseconds UTC, enums as
// INTEGER, repeated names as ",a,b," TEXT) plus the resource itself as serialized proto in `body`,
// which is what reads return. Every query is scoped by force.

namespace outreach::workshops {
namespace {

using google::protobuf::Timestamp;

constexpr absl::string_view kSchemaV1 = R"sql(
CREATE TABLE venues (
  force TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  display_name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  area TEXT NOT NULL,
  school_urn TEXT NOT NULL,
  pupil_roll INTEGER NOT NULL,
  create_micros INTEGER NOT NULL,
  update_micros INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (force, id)
);
CREATE INDEX venues_by_urn ON venues (force, school_urn);
CREATE TABLE presenters (
  force TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  display_name TEXT NOT NULL,
  team INTEGER NOT NULL,
  organisation TEXT NOT NULL,
  acc_state INTEGER NOT NULL,
  acc_expire_micros INTEGER,
  create_micros INTEGER NOT NULL,
  update_micros INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (force, id)
);
CREATE TABLE topics (
  force TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  display_name TEXT NOT NULL,
  category INTEGER NOT NULL,
  state INTEGER NOT NULL,
  min_year_group INTEGER NOT NULL,
  max_year_group INTEGER NOT NULL,
  suitable_for_pupils INTEGER NOT NULL,
  suitable_for_adults INTEGER NOT NULL,
  create_micros INTEGER NOT NULL,
  update_micros INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (force, id)
);
CREATE TABLE workshops (
  force TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  venue TEXT NOT NULL,
  area TEXT NOT NULL,
  venue_kind INTEGER NOT NULL,
  state INTEGER NOT NULL,
  format INTEGER NOT NULL,
  audiences TEXT NOT NULL,
  year_groups TEXT NOT NULL,
  topics TEXT NOT NULL,
  presenters TEXT NOT NULL,
  partner_organisation TEXT NOT NULL,
  start_micros INTEGER NOT NULL,
  end_micros INTEGER NOT NULL,
  delivered_micros INTEGER,
  pupils INTEGER NOT NULL,
  create_micros INTEGER NOT NULL,
  update_micros INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (force, id)
);
CREATE INDEX workshops_by_time ON workshops (force, state, start_micros);
CREATE INDEX workshops_by_venue ON workshops (force, venue);
CREATE INDEX workshops_by_delivery ON workshops (force, delivered_micros);
)sql";

std::function<bool(absl::string_view, int64_t*)> EnumParser(
    const google::protobuf::EnumDescriptor* descriptor) {
  return [descriptor](absl::string_view text, int64_t* out) {
    const auto* value = descriptor->FindValueByName(std::string(text));
    if (value == nullptr || value->number() == 0) return false;
    *out = value->number();
    return true;
  };
}

QueryField Field(std::string name, std::string column, QueryFieldType type, bool filterable = true,
                 bool orderable = true) {
  QueryField f;
  f.name = std::move(name);
  f.column = std::move(column);
  f.type = type;
  f.filterable = filterable;
  f.orderable = orderable;
  return f;
}
QueryField EnumField(std::string name, std::string column,
                     const google::protobuf::EnumDescriptor* descriptor, bool orderable) {
  QueryField f = Field(std::move(name), std::move(column), QueryFieldType::kEnum, true, orderable);
  f.parse_enum = EnumParser(descriptor);
  return f;
}

const QuerySchema& VenueSchema() {
  static const QuerySchema schema(
      {
          Field("area", "t.area", QueryFieldType::kString),
          EnumField("kind", "t.kind", cv1::VenueKind_descriptor(), true),
          Field("school_urn", "t.school_urn", QueryFieldType::kString, true, false),
          Field("display_name", "t.display_name", QueryFieldType::kString),
          Field("pupil_roll", "t.pupil_roll", QueryFieldType::kInt),
          Field("create_time", "t.create_micros", QueryFieldType::kTimestamp),
          Field("update_time", "t.update_micros", QueryFieldType::kTimestamp),
      },
      "t.name");
  return schema;
}

// accreditation.state is evaluated as of `now` (a number we generate, not caller text).
QuerySchema PresenterSchema(absl::Time now) {
  const std::string state_expr =
      absl::StrCat("(CASE WHEN t.acc_state = ", cv1::ACCREDITATION_STATE_ACCREDITED,
                   " AND t.acc_expire_micros <= ", db::ToMicros(now), " THEN ",
                   cv1::ACCREDITATION_STATE_EXPIRED, " ELSE t.acc_state END)");
  return QuerySchema(
      {
          EnumField("team", "t.team", cv1::PresenterTeam_descriptor(), true),
          Field("organisation", "t.organisation", QueryFieldType::kString, true, false),
          Field("display_name", "t.display_name", QueryFieldType::kString),
          EnumField("accreditation.state", state_expr, cv1::AccreditationState_descriptor(), false),
          Field("accreditation.expire_time", "t.acc_expire_micros", QueryFieldType::kTimestamp),
          Field("create_time", "t.create_micros", QueryFieldType::kTimestamp),
      },
      "t.name");
}

const QuerySchema& TopicSchema() {
  static const QuerySchema schema(
      {
          EnumField("category", "t.category", wv1::TopicCategory_descriptor(), true),
          EnumField("state", "t.state", wv1::TopicState_descriptor(), false),
          Field("display_name", "t.display_name", QueryFieldType::kString),
          Field("min_year_group", "t.min_year_group", QueryFieldType::kInt, true, false),
          Field("max_year_group", "t.max_year_group", QueryFieldType::kInt, true, false),
          Field("suitable_for_pupils", "t.suitable_for_pupils", QueryFieldType::kBool, true, false),
          Field("suitable_for_adults", "t.suitable_for_adults", QueryFieldType::kBool, true, false),
          Field("create_time", "t.create_micros", QueryFieldType::kTimestamp),
          Field("update_time", "t.update_micros", QueryFieldType::kTimestamp, false, true),
      },
      "t.name");
  return schema;
}

const QuerySchema& WorkshopSchema() {
  static const QuerySchema schema(
      {
          Field("venue", "t.venue", QueryFieldType::kString, true, false),
          Field("area", "t.area", QueryFieldType::kString),
          EnumField("venue_kind", "t.venue_kind", cv1::VenueKind_descriptor(), false),
          EnumField("state", "t.state", wv1::WorkshopState_descriptor(), true),
          EnumField("format", "t.format", cv1::WorkshopFormat_descriptor(), false),
          // Repeated fields: `=` means contains (values quoted by NormalizeWorkshopFilter).
          Field("audiences", "t.audiences", QueryFieldType::kStringList, true, false),
          Field("year_groups", "t.year_groups", QueryFieldType::kStringList, true, false),
          Field("topics", "t.topics", QueryFieldType::kStringList, true, false),
          Field("presenters", "t.presenters", QueryFieldType::kStringList, true, false),
          Field("partner_organisation", "t.partner_organisation", QueryFieldType::kString, true,
                false),
          Field("start_time", "t.start_micros", QueryFieldType::kTimestamp),
          Field("end_time", "t.end_micros", QueryFieldType::kTimestamp),
          Field("delivery.delivered_time", "t.delivered_micros", QueryFieldType::kTimestamp, true,
                false),
          Field("create_time", "t.create_micros", QueryFieldType::kTimestamp),
          Field("update_time", "t.update_micros", QueryFieldType::kTimestamp),
      },
      "t.name");
  return schema;
}

// A LIKE pattern matching a resource name inside a ",a,b," list column (portable SQL; names
// hold only [a-z0-9-/], so no LIKE wildcard can appear in them).
std::string ListMember(absl::string_view name) { return absl::StrCat("%,", name, ",%"); }

// The id segment of a name that was validated against `pattern` (last segment).
std::string IdOf(const std::string& name) { return name.substr(name.rfind('/') + 1); }

// --- row writers ------------------------------------------------------------------------

absl::Status PutVenue(db::Connection& c, absl::string_view force, absl::string_view id,
                      const wv1::Venue& v) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare("INSERT INTO venues (force, id, name, display_name, kind, area, school_urn, "
                "pupil_roll, create_micros, update_micros, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (force, id) DO UPDATE SET display_name = excluded.display_name, "
                "kind = excluded.kind, area = excluded.area, school_urn = excluded.school_urn, "
                "pupil_roll = excluded.pupil_roll, update_micros = excluded.update_micros, "
                "body = excluded.body"));
  q.Bind(1, force)
      .Bind(2, id)
      .Bind(3, v.name())
      .Bind(4, v.display_name())
      .Bind(5, static_cast<int64_t>(v.kind()))
      .Bind(6, v.area())
      .Bind(7, v.school_urn())
      .Bind(8, static_cast<int64_t>(v.pupil_roll()))
      .Bind(9, MicrosFromProto(v.create_time()))
      .Bind(10, MicrosFromProto(v.update_time()))
      .BindBlob(11, v.SerializeAsString());
  return q.Run();
}

absl::Status PutPresenter(db::Connection& c, absl::string_view force, absl::string_view id,
                          const wv1::Presenter& p) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare("INSERT INTO presenters (force, id, name, display_name, team, organisation, "
                "acc_state, acc_expire_micros, create_micros, update_micros, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (force, id) DO UPDATE SET display_name = excluded.display_name, "
                "team = excluded.team, organisation = excluded.organisation, "
                "acc_state = excluded.acc_state, acc_expire_micros = excluded.acc_expire_micros, "
                "update_micros = excluded.update_micros, body = excluded.body"));
  std::optional<int64_t> expire;
  if (p.accreditation().has_expire_time())
    expire = MicrosFromProto(p.accreditation().expire_time());
  q.Bind(1, force)
      .Bind(2, id)
      .Bind(3, p.name())
      .Bind(4, p.display_name())
      .Bind(5, static_cast<int64_t>(p.team()))
      .Bind(6, p.organisation())
      .Bind(7, static_cast<int64_t>(p.accreditation().state()))
      .Bind(8, expire)
      .Bind(9, MicrosFromProto(p.create_time()))
      .Bind(10, MicrosFromProto(p.update_time()))
      .BindBlob(11, p.SerializeAsString());
  return q.Run();
}

absl::Status PutTopic(db::Connection& c, absl::string_view force, absl::string_view id,
                      const wv1::Topic& t) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare("INSERT INTO topics (force, id, name, display_name, category, state, "
                "min_year_group, max_year_group, suitable_for_pupils, suitable_for_adults, "
                "create_micros, update_micros, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (force, id) DO UPDATE SET display_name = excluded.display_name, "
                "category = excluded.category, state = excluded.state, "
                "min_year_group = excluded.min_year_group, "
                "max_year_group = excluded.max_year_group, "
                "suitable_for_pupils = excluded.suitable_for_pupils, "
                "suitable_for_adults = excluded.suitable_for_adults, "
                "update_micros = excluded.update_micros, body = excluded.body"));
  q.Bind(1, force)
      .Bind(2, id)
      .Bind(3, t.name())
      .Bind(4, t.display_name())
      .Bind(5, static_cast<int64_t>(t.category()))
      .Bind(6, static_cast<int64_t>(t.state()))
      .Bind(7, static_cast<int64_t>(t.min_year_group()))
      .Bind(8, static_cast<int64_t>(t.max_year_group()))
      .Bind(9, static_cast<int64_t>(t.suitable_for_pupils() ? 1 : 0))
      .Bind(10, static_cast<int64_t>(t.suitable_for_adults() ? 1 : 0))
      .Bind(11, MicrosFromProto(t.create_time()))
      .Bind(12, MicrosFromProto(t.update_time()))
      .BindBlob(13, t.SerializeAsString());
  return q.Run();
}

absl::Status PutWorkshop(db::Connection& c, absl::string_view force, absl::string_view id,
                         const wv1::Workshop& w) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare("INSERT INTO workshops (force, id, name, venue, area, venue_kind, state, format, "
                "audiences, year_groups, topics, presenters, partner_organisation, start_micros, "
                "end_micros, delivered_micros, pupils, create_micros, update_micros, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (force, id) DO UPDATE SET venue = excluded.venue, "
                "area = excluded.area, venue_kind = excluded.venue_kind, state = excluded.state, "
                "format = excluded.format, audiences = excluded.audiences, "
                "year_groups = excluded.year_groups, topics = excluded.topics, "
                "presenters = excluded.presenters, "
                "partner_organisation = excluded.partner_organisation, "
                "start_micros = excluded.start_micros, end_micros = excluded.end_micros, "
                "delivered_micros = excluded.delivered_micros, pupils = excluded.pupils, "
                "update_micros = excluded.update_micros, body = excluded.body"));
  std::vector<std::string> audiences, years;
  for (int a : w.audiences()) {
    audiences.push_back(cv1::WorkshopAudience_Name(static_cast<cv1::WorkshopAudience>(a)));
  }
  for (int y : w.year_groups()) years.push_back(absl::StrCat(y));
  std::optional<int64_t> delivered;
  int64_t pupils = 0;
  if (w.state() == wv1::WORKSHOP_STATE_DELIVERED) {
    delivered = MicrosFromProto(w.delivery().delivered_time());
    pupils = PupilsIn(w.delivery().headcount());
  }
  q.Bind(1, force)
      .Bind(2, id)
      .Bind(3, w.name())
      .Bind(4, w.venue())
      .Bind(5, w.area())
      .Bind(6, static_cast<int64_t>(w.venue_kind()))
      .Bind(7, static_cast<int64_t>(w.state()))
      .Bind(8, static_cast<int64_t>(w.format()))
      .Bind(9, JoinStringList(audiences))
      .Bind(10, JoinStringList(years))
      .Bind(11, JoinStringList({w.topics().begin(), w.topics().end()}))
      .Bind(12, JoinStringList({w.presenters().begin(), w.presenters().end()}))
      .Bind(13, w.partner_organisation())
      .Bind(14, MicrosFromProto(w.start_time()))
      .Bind(15, MicrosFromProto(w.end_time()))
      .Bind(16, delivered)
      .Bind(17, pupils)
      .Bind(18, MicrosFromProto(w.create_time()))
      .Bind(19, MicrosFromProto(w.update_time()))
      .BindBlob(20, w.SerializeAsString());
  return q.Run();
}

const ResourceTable<wv1::Venue>& Venues() {
  static const ResourceTable<wv1::Venue> t{"venues", &VenuePattern(), PutVenue};
  return t;
}
const ResourceTable<wv1::Presenter>& Presenters() {
  static const ResourceTable<wv1::Presenter> t{"presenters", &PresenterPattern(), PutPresenter};
  return t;
}
const ResourceTable<wv1::Topic>& Topics() {
  static const ResourceTable<wv1::Topic> t{"topics", &TopicPattern(), PutTopic};
  return t;
}
const ResourceTable<wv1::Workshop>& Workshops() {
  static const ResourceTable<wv1::Workshop> t{"workshops", &WorkshopPattern(), PutWorkshop};
  return t;
}

// Whole-resource validation after an update mask was applied.
template <typename M>
std::function<absl::Status(const M&)> Revalidate(void (*validate)(const M&, const std::string&,
                                                                  std::vector<FieldViolation>*),
                                                 std::string prefix) {
  return [validate, prefix = std::move(prefix)](const M& m) {
    std::vector<FieldViolation> violations;
    validate(m, prefix, &violations);
    return ViolationsToStatus(std::move(violations));
  };
}

// The rule "a resource that workshops refer to cannot be deleted", as a delete hook.
template <typename M>
std::function<absl::Status(db::Connection&, const M&)> NotReferenced(absl::string_view column,
                                                                     absl::string_view why) {
  return [column, why](db::Connection& c, const M& m) -> absl::Status {
    const bool list = column != "venue";
    OUTREACH_ASSIGN_OR_RETURN(
        bool used, RowExists(c,
                             absl::StrCat("SELECT 1 FROM workshops WHERE force = ? AND ", column,
                                          list ? " LIKE ?" : " = ?", " LIMIT 1"),
                             ForceOf(m.name()), list ? ListMember(m.name()) : m.name()));
    if (used) return ResourceInUse(m.name(), why);
    return absl::OkStatus();
  };
}

// The staffing rules' reads, as SQL inside the caller's write transaction.
class SqlStaffing final : public StaffingLookup {
 public:
  SqlStaffing(db::Connection& c, std::string force) : c_(c), force_(std::move(force)) {}

  absl::StatusOr<wv1::Topic> Topic(const std::string& name) override {
    return MustLoad<wv1::Topic>(c_, "topics", force_, IdOf(name), name);
  }
  absl::StatusOr<wv1::Presenter> Presenter(const std::string& name) override {
    return MustLoad<wv1::Presenter>(c_, "presenters", force_, IdOf(name), name);
  }
  absl::StatusOr<std::string> ClashingWorkshop(const std::string& presenter,
                                               const std::string& self, absl::Time start,
                                               absl::Time end) override {
    OUTREACH_ASSIGN_OR_RETURN(
        db::Statement q,
        c_.Prepare("SELECT name FROM workshops WHERE force = ? AND name <> ? AND state IN (?, ?) "
                   "AND start_micros < ? AND end_micros > ? AND presenters LIKE ? "
                   "ORDER BY start_micros LIMIT 1"));
    q.Bind(1, force_)
        .Bind(2, self)
        .Bind(3, static_cast<int64_t>(wv1::WORKSHOP_STATE_SCHEDULED))
        .Bind(4, static_cast<int64_t>(wv1::WORKSHOP_STATE_DELIVERED))
        .Bind(5, db::ToMicros(end))
        .Bind(6, db::ToMicros(start))
        .Bind(7, ListMember(presenter));
    OUTREACH_ASSIGN_OR_RETURN(bool clash, q.Step());
    return clash ? q.Text(0) : std::string();
  }

 private:
  db::Connection& c_;
  std::string force_;
};

class SqlWorkshopsStore final : public WorkshopsStore {
 public:
  SqlWorkshopsStore(db::Database* db, const Clock* clock) : db_(db), clock_(clock) {}

  // --- venues -----------------------------------------------------------------------------

  absl::StatusOr<wv1::Venue> CreateVenue(const std::string& force, const std::string& id,
                                         const wv1::Venue& venue, const RequestKey& key) override {
    return WriteValue<wv1::Venue>(db_, [&](db::Connection& c) {
      return CreateResource(c, Venues(), {force, "CreateVenue", key, clock_->Now()}, id, venue,
                            VenueHooks());
    });
  }

  absl::StatusOr<wv1::Venue> GetVenue(const std::string& force, const std::string& id) override {
    return GetResource(db_, Venues(), force, id);
  }

  absl::StatusOr<wv1::Venue> UpdateVenue(const std::string& force, const std::string& id,
                                         const wv1::Venue& input,
                                         const std::set<std::string>& paths) override {
    return WriteValue<wv1::Venue>(db_, [&](db::Connection& c) {
      return UpdateResource(c, Venues(), force, id, input, paths, "venue.etag", clock_->Now(),
                            Revalidate(&ValidateVenue, "venue."), VenueHooks());
    });
  }

  absl::Status DeleteVenue(const std::string& force, const std::string& id,
                           const std::string& etag) override {
    return db_->Write([&](db::Connection& c) {
      WriteHooks<wv1::Venue> hooks;
      hooks.check = NotReferenced<wv1::Venue>("venue", "has workshops; it cannot be deleted");
      hooks.after = [&force](db::Connection& tx, const wv1::Venue& v, absl::Time now) {
        return Outbox::Append(tx, VenueDeletedEvent(force, v, now), now);
      };
      return DeleteResource(c, Venues(), force, id, etag, clock_->Now(), hooks);
    });
  }

  absl::StatusOr<ListPage<wv1::Venue>> ListVenues(const std::string& force,
                                                  const ListQuery& query) override {
    return ListRows<wv1::Venue>(db_, "venues", VenueSchema(), "display_name", force, query);
  }

  // --- presenters -------------------------------------------------------------------------

  absl::StatusOr<wv1::Presenter> CreatePresenter(const std::string& force, const std::string& id,
                                                 const wv1::Presenter& presenter,
                                                 const RequestKey& key) override {
    // A new presenter is never accredited: GrantAccreditation is the only way in.
    wv1::Presenter input = presenter;
    input.clear_accreditation();
    input.mutable_accreditation()->set_state(cv1::ACCREDITATION_STATE_NOT_ACCREDITED);
    OUTREACH_ASSIGN_OR_RETURN(
        wv1::Presenter out, WriteValue<wv1::Presenter>(db_, [&](db::Connection& c) {
          return CreateResource(c, Presenters(), {force, "CreatePresenter", key, clock_->Now()}, id,
                                input);
        }));
    return AsOf(std::move(out), clock_->Now());
  }

  absl::StatusOr<wv1::Presenter> GetPresenter(const std::string& force,
                                              const std::string& id) override {
    OUTREACH_ASSIGN_OR_RETURN(wv1::Presenter out, GetResource(db_, Presenters(), force, id));
    return AsOf(std::move(out), clock_->Now());
  }

  absl::StatusOr<wv1::Presenter> UpdatePresenter(const std::string& force, const std::string& id,
                                                 const wv1::Presenter& input,
                                                 const std::set<std::string>& paths) override {
    OUTREACH_ASSIGN_OR_RETURN(
        wv1::Presenter out, WriteValue<wv1::Presenter>(db_, [&](db::Connection& c) {
          return UpdateResource(c, Presenters(), force, id, input, paths, "presenter.etag",
                                clock_->Now(), Revalidate(&ValidatePresenter, "presenter."));
        }));
    return AsOf(std::move(out), clock_->Now());
  }

  absl::Status DeletePresenter(const std::string& force, const std::string& id,
                               const std::string& etag) override {
    return db_->Write([&](db::Connection& c) {
      WriteHooks<wv1::Presenter> hooks;
      hooks.check =
          NotReferenced<wv1::Presenter>("presenters", "is on workshops; it cannot be deleted");
      return DeleteResource(c, Presenters(), force, id, etag, clock_->Now(), hooks);
    });
  }

  absl::StatusOr<ListPage<wv1::Presenter>> ListPresenters(const std::string& force,
                                                          const ListQuery& query) override {
    const absl::Time now = clock_->Now();
    OUTREACH_ASSIGN_OR_RETURN(
        auto page, ListRows<wv1::Presenter>(db_, "presenters", PresenterSchema(now), "display_name",
                                            force, query));
    for (auto& p : page.items) p = AsOf(std::move(p), now);
    return page;
  }

  absl::StatusOr<wv1::Presenter> GrantAccreditation(const std::string& force, const std::string& id,
                                                    const std::string& etag,
                                                    const Timestamp& expire_time,
                                                    const std::string& note) override {
    const absl::Time now = clock_->Now();
    OUTREACH_ASSIGN_OR_RETURN(
        wv1::Presenter out, WriteValue<wv1::Presenter>(db_, [&](db::Connection& c) {
          return ChangeResource<wv1::Presenter>(
              c, Presenters(), force, id, etag, now,
              [&](wv1::Presenter& p) { return GrantTo(p, now, expire_time, note); },
              AccreditationHooks(force));
        }));
    return AsOf(std::move(out), now);
  }

  absl::StatusOr<wv1::Presenter> SuspendAccreditation(const std::string& force,
                                                      const std::string& id,
                                                      const std::string& etag,
                                                      const std::string& reason) override {
    const absl::Time now = clock_->Now();
    OUTREACH_ASSIGN_OR_RETURN(wv1::Presenter out,
                              WriteValue<wv1::Presenter>(db_, [&](db::Connection& c) {
                                return ChangeResource<wv1::Presenter>(
                                    c, Presenters(), force, id, etag, now,
                                    [&](wv1::Presenter& p) { return SuspendFrom(p, now, reason); },
                                    AccreditationHooks(force));
                              }));
    return AsOf(std::move(out), now);
  }

  // --- topics -----------------------------------------------------------------------------

  absl::StatusOr<wv1::Topic> CreateTopic(const std::string& force, const std::string& id,
                                         const wv1::Topic& topic, const RequestKey& key) override {
    wv1::Topic input = topic;
    input.set_state(wv1::TOPIC_STATE_ACTIVE);
    input.clear_retire_time();
    return WriteValue<wv1::Topic>(db_, [&](db::Connection& c) {
      return CreateResource(c, Topics(), {force, "CreateTopic", key, clock_->Now()}, id, input);
    });
  }

  absl::StatusOr<wv1::Topic> GetTopic(const std::string& force, const std::string& id) override {
    return GetResource(db_, Topics(), force, id);
  }

  absl::StatusOr<wv1::Topic> UpdateTopic(const std::string& force, const std::string& id,
                                         const wv1::Topic& input,
                                         const std::set<std::string>& paths) override {
    // A retired topic is frozen; the state itself is not updatable, so checking the merged
    // topic is checking the stored one.
    const auto validate = [check = Revalidate(&ValidateTopic, "topic.")](const wv1::Topic& t) {
      OUTREACH_RETURN_IF_ERROR(CheckTopicActive(t));
      return check(t);
    };
    return WriteValue<wv1::Topic>(db_, [&](db::Connection& c) {
      return UpdateResource<wv1::Topic>(c, Topics(), force, id, input, paths, "topic.etag",
                                        clock_->Now(), validate);
    });
  }

  absl::Status DeleteTopic(const std::string& force, const std::string& id,
                           const std::string& etag) override {
    return db_->Write([&](db::Connection& c) {
      WriteHooks<wv1::Topic> hooks;
      hooks.check = NotReferenced<wv1::Topic>("topics", "is on workshops; retire it instead");
      return DeleteResource(c, Topics(), force, id, etag, clock_->Now(), hooks);
    });
  }

  absl::StatusOr<ListPage<wv1::Topic>> ListTopics(const std::string& force,
                                                  const ListQuery& query) override {
    return ListRows<wv1::Topic>(db_, "topics", TopicSchema(), "display_name", force, query);
  }

  absl::StatusOr<wv1::Topic> RetireTopic(const std::string& force, const std::string& id,
                                         const std::string& etag) override {
    const absl::Time now = clock_->Now();
    return WriteValue<wv1::Topic>(db_, [&](db::Connection& c) {
      return ChangeResource<wv1::Topic>(c, Topics(), force, id, etag, now,
                                        [&](wv1::Topic& t) { return RetireAt(t, now); });
    });
  }

  // --- workshops --------------------------------------------------------------------------

  absl::StatusOr<wv1::Workshop> ScheduleWorkshop(const std::string& force, const std::string& id,
                                                 const wv1::Workshop& workshop,
                                                 const RequestKey& key) override {
    return WriteValue<wv1::Workshop>(db_, [&](db::Connection& c) {
      const absl::Time now = clock_->Now();
      return CreateOnce<wv1::Workshop>(
          c, {force, "ScheduleWorkshop", key, now}, [&]() -> absl::StatusOr<wv1::Workshop> {
            const std::string name = Workshops().Name(force, id);
            OUTREACH_RETURN_IF_ERROR(RequireAbsent(c, "workshops", force, id, name));
            wv1::Workshop out = workshop;
            out.set_name(name);
            out.clear_delivery();
            out.clear_state_reason();
            OUTREACH_ASSIGN_OR_RETURN(
                wv1::Venue venue,
                MustLoad<wv1::Venue>(c, "venues", force, IdOf(out.venue()), out.venue()));
            out.set_area(venue.area());
            out.set_venue_kind(venue.kind());
            SqlStaffing staffing(c, force);
            OUTREACH_RETURN_IF_ERROR(
                CheckTopics(staffing, out, {}, /*all=*/true, /*age_band=*/true));
            OUTREACH_RETURN_IF_ERROR(CheckPresenters(staffing, out, {}, /*all=*/true, now));
            out.set_state(wv1::WORKSHOP_STATE_SCHEDULED);
            *out.mutable_state_time() = ToProtoTime(now);
            StampResource(&out, now, /*created=*/true);
            OUTREACH_RETURN_IF_ERROR(PutWorkshop(c, force, id, out));
            OUTREACH_RETURN_IF_ERROR(
                Outbox::Append(c, WorkshopScheduledEvent(force, out, false, now), now));
            return out;
          });
    });
  }

  absl::StatusOr<wv1::Workshop> GetWorkshop(const std::string& force,
                                            const std::string& id) override {
    return GetResource(db_, Workshops(), force, id);
  }

  absl::StatusOr<wv1::Workshop> UpdateWorkshop(const std::string& force, const std::string& id,
                                               const wv1::Workshop& input,
                                               const std::set<std::string>& paths) override {
    wv1::Workshop out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](db::Connection& c) -> absl::Status {
      const absl::Time now = clock_->Now();
      const std::string name = WorkshopPattern().Format({force, id});
      OUTREACH_ASSIGN_OR_RETURN(out, MustLoad<wv1::Workshop>(c, "workshops", force, id, name));
      OUTREACH_RETURN_IF_ERROR(CheckEtag("workshop.etag", name, input.etag(), out.etag()));
      OUTREACH_RETURN_IF_ERROR(
          CheckState(out, {wv1::WORKSHOP_STATE_SCHEDULED, wv1::WORKSHOP_STATE_POSTPONED}));
      const wv1::Workshop before = out;
      MergeMasked(input, paths, &out);
      std::vector<FieldViolation> violations;
      ValidateWorkshop(out, "workshop.", &violations);
      OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(violations)));
      for (const auto& ref : out.topics()) OUTREACH_RETURN_IF_ERROR(CheckSameForce(force, ref));
      for (const auto& ref : out.presenters()) OUTREACH_RETURN_IF_ERROR(CheckSameForce(force, ref));
      const std::set<std::string> old_topics(before.topics().begin(), before.topics().end());
      const std::set<std::string> old_presenters(before.presenters().begin(),
                                                 before.presenters().end());
      const bool band_changed =
          paths.count("topics") || paths.count("audiences") || paths.count("year_groups");
      SqlStaffing staffing(c, force);
      OUTREACH_RETURN_IF_ERROR(CheckTopics(staffing, out, old_topics, false, band_changed));
      // A POSTPONED workshop blocks nobody; RescheduleWorkshop checks every presenter again.
      OUTREACH_RETURN_IF_ERROR(CheckPresenters(staffing, out, old_presenters, false, now,
                                               out.state() == wv1::WORKSHOP_STATE_SCHEDULED));
      StampResource(&out, now, /*created=*/false);
      OUTREACH_RETURN_IF_ERROR(PutWorkshop(c, force, id, out));
      if (out.state() == wv1::WORKSHOP_STATE_SCHEDULED) {
        return Outbox::Append(c, WorkshopScheduledEvent(force, out, false, now), now);
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::Status DeleteWorkshop(const std::string& force, const std::string& id,
                              const std::string& etag) override {
    return db_->Write([&](db::Connection& c) -> absl::Status {
      const absl::Time now = clock_->Now();
      const std::string name = WorkshopPattern().Format({force, id});
      OUTREACH_ASSIGN_OR_RETURN(wv1::Workshop w,
                                MustLoad<wv1::Workshop>(c, "workshops", force, id, name));
      OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", name, etag, w.etag()));
      if (w.state() == wv1::WORKSHOP_STATE_DELIVERED) {
        return FailedPrecondition("WORKSHOP_ALREADY_DELIVERED",
                                  absl::StrCat("workshop ", name, " was delivered"));
      }
      OUTREACH_RETURN_IF_ERROR(DeleteRow(c, "workshops", force, id));
      if (w.state() == wv1::WORKSHOP_STATE_SCHEDULED ||
          w.state() == wv1::WORKSHOP_STATE_POSTPONED) {
        return Outbox::Append(c, WorkshopCancelledEvent(force, w, true, now), now);
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<ListPage<wv1::Workshop>> ListWorkshops(const std::string& force,
                                                        const ListQuery& query) override {
    ListQuery normalized = query;
    normalized.filter = NormalizeWorkshopFilter(query.filter);
    return ListRows<wv1::Workshop>(db_, "workshops", WorkshopSchema(), "start_time", force,
                                   normalized);
  }

  absl::StatusOr<wv1::Workshop> RescheduleWorkshop(const std::string& force, const std::string& id,
                                                   const std::string& etag, const Timestamp& start,
                                                   const Timestamp& end, const std::string& venue,
                                                   const std::string& reason) override {
    wv1::Workshop out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](db::Connection& c) -> absl::Status {
      const absl::Time now = clock_->Now();
      const std::string name = WorkshopPattern().Format({force, id});
      OUTREACH_ASSIGN_OR_RETURN(out, MustLoad<wv1::Workshop>(c, "workshops", force, id, name));
      OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", name, etag, out.etag()));
      OUTREACH_RETURN_IF_ERROR(
          CheckState(out, {wv1::WORKSHOP_STATE_SCHEDULED, wv1::WORKSHOP_STATE_POSTPONED}));
      if (!venue.empty()) out.set_venue(venue);
      OUTREACH_ASSIGN_OR_RETURN(
          wv1::Venue v, MustLoad<wv1::Venue>(c, "venues", force, IdOf(out.venue()), out.venue()));
      out.set_area(v.area());
      out.set_venue_kind(v.kind());
      *out.mutable_start_time() = start;
      *out.mutable_end_time() = end;
      SqlStaffing staffing(c, force);
      OUTREACH_RETURN_IF_ERROR(CheckPresenters(staffing, out, {}, /*all=*/true, now));
      out.set_state(wv1::WORKSHOP_STATE_SCHEDULED);
      out.set_state_reason(reason);
      *out.mutable_state_time() = ToProtoTime(now);
      StampResource(&out, now, /*created=*/false);
      OUTREACH_RETURN_IF_ERROR(PutWorkshop(c, force, id, out));
      return Outbox::Append(c, WorkshopScheduledEvent(force, out, true, now), now);
    }));
    return out;
  }

  absl::StatusOr<wv1::Workshop> PostponeWorkshop(const std::string& force, const std::string& id,
                                                 const std::string& etag,
                                                 const std::string& reason) override {
    return ChangeState(force, id, etag, reason, {wv1::WORKSHOP_STATE_SCHEDULED},
                       wv1::WORKSHOP_STATE_POSTPONED);
  }

  absl::StatusOr<wv1::Workshop> CancelWorkshop(const std::string& force, const std::string& id,
                                               const std::string& etag,
                                               const std::string& reason) override {
    return ChangeState(force, id, etag, reason,
                       {wv1::WORKSHOP_STATE_SCHEDULED, wv1::WORKSHOP_STATE_POSTPONED},
                       wv1::WORKSHOP_STATE_CANCELLED);
  }

  absl::StatusOr<wv1::Workshop> DeliverWorkshop(const std::string& force, const std::string& id,
                                                const std::string& etag,
                                                const wv1::DeliveryRecord& delivery,
                                                const RequestKey& key) override {
    return WriteValue<wv1::Workshop>(db_, [&](db::Connection& c) {
      const absl::Time now = clock_->Now();
      return CreateOnce<wv1::Workshop>(
          c, {force, "DeliverWorkshop", key, now}, [&]() -> absl::StatusOr<wv1::Workshop> {
            const std::string name = Workshops().Name(force, id);
            OUTREACH_ASSIGN_OR_RETURN(wv1::Workshop out,
                                      MustLoad<wv1::Workshop>(c, "workshops", force, id, name));
            OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", name, etag, out.etag()));
            OUTREACH_ASSIGN_OR_RETURN(
                wv1::Venue venue,
                MustLoad<wv1::Venue>(c, "venues", force, IdOf(out.venue()), out.venue()));
            OUTREACH_RETURN_IF_ERROR(RecordDelivery(out, venue, delivery, now));
            StampResource(&out, now, /*created=*/false);
            OUTREACH_RETURN_IF_ERROR(PutWorkshop(c, force, id, out));
            OUTREACH_RETURN_IF_ERROR(
                Outbox::Append(c, WorkshopDeliveredEvent(force, out, now), now));
            return out;
          });
    });
  }

  absl::StatusOr<wv1::Coverage> GetCoverage(const std::string& force, int academic_year,
                                            const std::string& area,
                                            const std::vector<cv1::VenueKind>& kinds) override {
    const absl::Time from = StartOfLocalDay(AcademicYearStart(academic_year));
    const absl::Time to = StartOfLocalDay(AcademicYearEnd(academic_year) + 1);
    std::vector<wv1::Venue> schools;
    std::vector<DeliveredAt> deliveries;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](db::Connection& c) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(
          db::Statement venues,
          c.Prepare(absl::StrCat("SELECT body, kind FROM venues WHERE force = ?",
                                 area.empty() ? "" : " AND area = ?", " ORDER BY name")));
      venues.Bind(1, force);
      if (!area.empty()) venues.Bind(2, area);
      while (true) {
        OUTREACH_ASSIGN_OR_RETURN(bool row, venues.Step());
        if (!row) break;
        const auto kind = static_cast<cv1::VenueKind>(venues.Int64(1));
        if (!IsSchoolKind(kind)) continue;
        if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
          continue;
        }
        wv1::Venue v;
        if (!v.ParseFromString(venues.Blob(0))) return absl::InternalError("row does not parse");
        schools.push_back(std::move(v));
      }
      OUTREACH_ASSIGN_OR_RETURN(
          db::Statement delivered,
          c.Prepare("SELECT venue, pupils, delivered_micros FROM workshops WHERE force = ? AND "
                    "state = ? AND delivered_micros >= ? AND delivered_micros < ?"));
      delivered.Bind(1, force)
          .Bind(2, static_cast<int64_t>(wv1::WORKSHOP_STATE_DELIVERED))
          .Bind(3, db::ToMicros(from))
          .Bind(4, db::ToMicros(to));
      while (true) {
        OUTREACH_ASSIGN_OR_RETURN(bool row, delivered.Step());
        if (!row) break;
        deliveries.push_back(
            {delivered.Text(0), delivered.Int64(1), db::FromMicros(delivered.Int64(2))});
      }
      return absl::OkStatus();
    }));
    wv1::Coverage out = BuildCoverage(schools, deliveries);
    out.set_name(CoveragePattern().Format({force}));
    out.set_academic_year(academic_year);
    *out.mutable_date_range()->mutable_start_date() = ToProtoDate(AcademicYearStart(academic_year));
    *out.mutable_date_range()->mutable_end_date() = ToProtoDate(AcademicYearEnd(academic_year));
    out.set_area(area);
    *out.mutable_compute_time() = ToProtoTime(clock_->Now());
    return out;
  }

 private:
  static wv1::Presenter AsOf(wv1::Presenter p, absl::Time now) {
    p.mutable_accreditation()->set_state(AccreditationStateAt(p.accreditation(), now));
    return p;
  }

  // A school URN names one venue of the force; every write of a venue publishes it.
  static WriteHooks<wv1::Venue> VenueHooks() {
    WriteHooks<wv1::Venue> hooks;
    hooks.check = [](db::Connection& c, const wv1::Venue& v) {
      return CheckUrnFree(c, ForceOf(v.name()), IdOf(v.name()), v.school_urn());
    };
    hooks.after = [](db::Connection& c, const wv1::Venue& v, absl::Time now) {
      return Outbox::Append(c, VenueUpsertedEvent(ForceOf(v.name()), v, now), now);
    };
    return hooks;
  }

  static WriteHooks<wv1::Presenter> AccreditationHooks(const std::string& force) {
    WriteHooks<wv1::Presenter> hooks;
    hooks.after = [force](db::Connection& c, const wv1::Presenter& p, absl::Time now) {
      return Outbox::Append(c, AccreditationChangedEvent(force, p, now), now);
    };
    return hooks;
  }

  static absl::Status CheckUrnFree(db::Connection& c, const std::string& force,
                                   const std::string& id, const std::string& urn) {
    if (urn.empty()) return absl::OkStatus();
    OUTREACH_ASSIGN_OR_RETURN(
        db::Statement q,
        c.Prepare("SELECT name FROM venues WHERE force = ? AND school_urn = ? AND id <> ?"));
    q.Bind(1, force).Bind(2, urn).Bind(3, id);
    OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) return ResourceExists(q.Text(0), "school_urn");
    return absl::OkStatus();
  }

  absl::StatusOr<wv1::Workshop> ChangeState(const std::string& force, const std::string& id,
                                            const std::string& etag, const std::string& reason,
                                            std::initializer_list<wv1::WorkshopState> allowed,
                                            wv1::WorkshopState target) {
    wv1::Workshop out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](db::Connection& c) -> absl::Status {
      const absl::Time now = clock_->Now();
      const std::string name = WorkshopPattern().Format({force, id});
      OUTREACH_ASSIGN_OR_RETURN(out, MustLoad<wv1::Workshop>(c, "workshops", force, id, name));
      OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", name, etag, out.etag()));
      OUTREACH_RETURN_IF_ERROR(CheckState(out, allowed));
      out.set_state(target);
      out.set_state_reason(reason);
      *out.mutable_state_time() = ToProtoTime(now);
      StampResource(&out, now, /*created=*/false);
      OUTREACH_RETURN_IF_ERROR(PutWorkshop(c, force, id, out));
      const ev1::OutreachEvent event = target == wv1::WORKSHOP_STATE_POSTPONED
                                           ? WorkshopPostponedEvent(force, out, now)
                                           : WorkshopCancelledEvent(force, out, false, now);
      return Outbox::Append(c, event, now);
    }));
    return out;
  }

  db::Database* db_;
  const Clock* clock_;
};

}  // namespace

std::vector<db::MigrationSet> WorkshopsSchema() {
  return {CommonMigrations(),
          {"workshops", {{1, "venues, presenters, topics and workshops", kSchemaV1}}}};
}

std::unique_ptr<WorkshopsStore> NewSqlWorkshopsStore(db::Database* db, const Clock* clock) {
  return std::make_unique<SqlWorkshopsStore>(db, clock);
}

}  // namespace outreach::workshops
