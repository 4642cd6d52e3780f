#include "services/campaigns/store.h"

#include <functional>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/query.h"
#include "common/status_macros.h"
#include "common/store_support.h"
#include "google/protobuf/util/message_differencer.h"
#include "outreach/events/v1/events.pb.h"

namespace outreach::campaigns {
namespace {

namespace epb = ::outreach::events::v1;
using db::Connection;

constexpr absl::string_view kSchema =
    "CREATE TABLE campaigns ("
    "  force TEXT NOT NULL,"
    "  campaign_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  title TEXT NOT NULL,"
    "  audiences TEXT NOT NULL,"
    "  areas TEXT NOT NULL,"
    "  start_date TEXT NOT NULL,"
    "  end_date TEXT NOT NULL,"
    "  follow_dates INTEGER NOT NULL,"
    "  create_micros INTEGER NOT NULL,"
    "  update_micros INTEGER NOT NULL,"
    "  body BLOB NOT NULL,"
    "  PRIMARY KEY (force, campaign_id));"
    "CREATE INDEX campaigns_due ON campaigns (force, follow_dates, state);"
    "CREATE TABLE activities ("
    "  force TEXT NOT NULL,"
    "  campaign_id TEXT NOT NULL,"
    "  activity_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  channel INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  audiences TEXT NOT NULL,"
    "  scheduled_micros INTEGER NOT NULL,"
    "  publish_micros INTEGER,"
    "  create_micros INTEGER NOT NULL,"
    "  body BLOB NOT NULL,"
    "  PRIMARY KEY (force, campaign_id, activity_id));"
    "CREATE TABLE engagement_reports ("
    "  force TEXT NOT NULL,"
    "  campaign_id TEXT NOT NULL,"
    "  activity_id TEXT NOT NULL,"
    "  activity_name TEXT NOT NULL,"
    "  report_key TEXT NOT NULL,"
    "  channel INTEGER NOT NULL,"
    "  day TEXT NOT NULL,"
    "  impressions INTEGER NOT NULL,"
    "  reach INTEGER NOT NULL,"
    "  engagements INTEGER NOT NULL,"
    "  clicks INTEGER NOT NULL,"
    "  shares INTEGER NOT NULL,"
    "  attendance INTEGER NOT NULL,"
    "  copies_distributed INTEGER NOT NULL,"
    "  revision INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  create_micros INTEGER NOT NULL,"
    "  update_micros INTEGER NOT NULL,"
    "  PRIMARY KEY (force, campaign_id, activity_id, day));"
    "CREATE INDEX engagement_reports_day ON engagement_reports (force, campaign_id, day);";

bool ParseEnumName(const google::protobuf::EnumDescriptor* descriptor, absl::string_view name,
                   int64_t* value) {
  const auto* v = descriptor->FindValueByName(std::string(name));
  if (v == nullptr) return false;
  *value = v->number();
  return true;
}

std::function<bool(absl::string_view, int64_t*)> EnumParser(
    const google::protobuf::EnumDescriptor* descriptor) {
  return [descriptor](absl::string_view name, int64_t* value) {
    return ParseEnumName(descriptor, name, value);
  };
}

template <typename Repeated>
std::string AudienceList(const Repeated& audiences) {
  std::vector<std::string> names;
  for (int a : audiences) names.push_back(cpb::CampaignAudience_Name(a));
  return JoinStringList(names);
}

// Callers write `audiences = CAMPAIGN_AUDIENCE_PARENTS` (an enum, unquoted, as common.proto
// says); the shared query parser wants list values quoted, so the enum name is quoted here.
std::string QuoteAudienceValues(absl::string_view filter) {
  std::string out;
  constexpr absl::string_view kPrefix = "CAMPAIGN_AUDIENCE_";
  bool in_string = false;
  size_t i = 0;
  while (i < filter.size()) {
    const char c = filter[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < filter.size()) {
        out.push_back(filter[i + 1]);
        i += 2;
        continue;
      }
      if (c == '"') in_string = false;
      ++i;
    } else if (c == '"') {
      in_string = true;
      out.push_back(c);
      ++i;
    } else if (filter.compare(i, kPrefix.size(), kPrefix) == 0 &&
               (i == 0 || !(absl::ascii_isalnum(filter[i - 1]) || filter[i - 1] == '_'))) {
      size_t j = i;
      while (j < filter.size() && (absl::ascii_isalnum(filter[j]) || filter[j] == '_')) ++j;
      absl::StrAppend(&out, "\"", filter.substr(i, j - i), "\"");
      i = j;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

const QuerySchema& CampaignQuery() {
  static const QuerySchema* schema =
      new QuerySchema({{"state", "state", QueryFieldType::kEnum, true, true,
                        EnumParser(cpb::CampaignState_descriptor())},
                       {"audiences", "audiences", QueryFieldType::kStringList, true, false},
                       {"areas", "areas", QueryFieldType::kStringList, true, false},
                       {"start_date", "start_date", QueryFieldType::kDate},
                       {"end_date", "end_date", QueryFieldType::kDate},
                       {"title", "title", QueryFieldType::kString},
                       {"follow_dates", "follow_dates", QueryFieldType::kBool, true, false},
                       {"create_time", "create_micros", QueryFieldType::kTimestamp},
                       {"update_time", "update_micros", QueryFieldType::kTimestamp}},
                      "name");
  return *schema;
}

const QuerySchema& ActivityQuery() {
  static const QuerySchema* schema =
      new QuerySchema({{"channel", "channel", QueryFieldType::kEnum, true, true,
                        EnumParser(cpb::Channel_descriptor())},
                       {"state", "state", QueryFieldType::kEnum, true, false,
                        EnumParser(pb::ActivityState_descriptor())},
                       {"audiences", "audiences", QueryFieldType::kStringList, true, false},
                       {"scheduled_time", "scheduled_micros", QueryFieldType::kTimestamp},
                       {"publish_time", "publish_micros", QueryFieldType::kTimestamp},
                       {"create_time", "create_micros", QueryFieldType::kTimestamp}},
                      "name");
  return *schema;
}

const QuerySchema& ReportQuery() {
  static const QuerySchema* schema =
      new QuerySchema({{"activity", "activity_name", QueryFieldType::kString},
                       {"channel", "channel", QueryFieldType::kEnum, true, true,
                        EnumParser(cpb::Channel_descriptor())},
                       {"day", "day", QueryFieldType::kDate},
                       {"revision", "revision", QueryFieldType::kInt, true, false},
                       {"update_time", "update_micros", QueryFieldType::kTimestamp}},
                      "report_key");
  return *schema;
}

// common.proto promises ErrorInfo metadata `resource` on NOT_FOUND, ALREADY_EXISTS and
// ETAG_MISMATCH; the shared helpers set only the reason, so it is added here.
absl::Status NamedError(absl::Status status, const std::string& resource) {
  if (status.ok()) return status;
  return WithMetadata(std::move(status), {{"resource", resource}});
}

// --- rows <-> messages --------------------------------------------------------------------

absl::StatusOr<pb::Campaign> LoadCampaign(Connection& c, const CampaignKey& key) {
  OUTREACH_ASSIGN_OR_RETURN(
      auto q, c.Prepare("SELECT body FROM campaigns WHERE force = ? AND campaign_id = ?"));
  q.Bind(1, key.force).Bind(2, key.campaign);
  OUTREACH_ASSIGN_OR_RETURN(auto row, q.Step());
  if (!row)
    return NamedError(NotFound(CampaignName(key.force, key.campaign)),
                      CampaignName(key.force, key.campaign));
  pb::Campaign campaign;
  if (!campaign.ParseFromString(q.Blob(0))) return absl::InternalError("corrupt campaign row");
  campaign.set_etag(ComputeEtag(campaign));
  return campaign;
}

absl::Status SaveCampaign(Connection& c, const CampaignKey& key, pb::Campaign campaign) {
  campaign.clear_etag();
  OUTREACH_ASSIGN_OR_RETURN(
      auto q,
      c.Prepare("INSERT INTO campaigns (force, campaign_id, name, state, title, audiences, "
                "areas, start_date, end_date, follow_dates, create_micros, update_micros, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (force, campaign_id) DO UPDATE SET state = excluded.state, "
                "title = excluded.title, audiences = excluded.audiences, "
                "areas = excluded.areas, start_date = excluded.start_date, "
                "end_date = excluded.end_date, follow_dates = excluded.follow_dates, "
                "update_micros = excluded.update_micros, body = excluded.body"));
  q.Bind(1, key.force)
      .Bind(2, key.campaign)
      .Bind(3, campaign.name())
      .Bind(4, static_cast<int64_t>(campaign.state()))
      .Bind(5, campaign.title())
      .Bind(6, AudienceList(campaign.audiences()))
      .Bind(7, JoinStringList({campaign.areas().begin(), campaign.areas().end()}))
      .Bind(8, FormatDay(StartDay(campaign)))
      .Bind(9, FormatDay(EndDay(campaign)))
      .Bind(10, static_cast<int64_t>(campaign.follow_dates() ? 1 : 0))
      .Bind(11, MicrosFromProto(campaign.create_time()))
      .Bind(12, MicrosFromProto(campaign.update_time()))
      .BindBlob(13, campaign.SerializeAsString());
  return q.Run();
}

absl::StatusOr<pb::Activity> ParseActivity(const std::string& blob) {
  pb::Activity activity;
  if (!activity.ParseFromString(blob)) return absl::InternalError("corrupt activity row");
  activity.set_etag(ComputeEtag(activity));
  return activity;
}

absl::StatusOr<pb::Activity> LoadActivity(Connection& c, const ActivityKey& key) {
  OUTREACH_ASSIGN_OR_RETURN(
      auto q, c.Prepare("SELECT body FROM activities WHERE force = ? AND campaign_id = ? "
                        "AND activity_id = ?"));
  q.Bind(1, key.force).Bind(2, key.campaign).Bind(3, key.activity);
  OUTREACH_ASSIGN_OR_RETURN(auto row, q.Step());
  if (!row)
    return NamedError(NotFound(ActivityName(key.force, key.campaign, key.activity)),
                      ActivityName(key.force, key.campaign, key.activity));
  return ParseActivity(q.Blob(0));
}

absl::StatusOr<std::vector<pb::Activity>> LoadActivities(Connection& c, const CampaignKey& key) {
  OUTREACH_ASSIGN_OR_RETURN(
      auto q, c.Prepare("SELECT body FROM activities WHERE force = ? AND campaign_id = ? "
                        "ORDER BY name"));
  q.Bind(1, key.force).Bind(2, key.campaign);
  std::vector<pb::Activity> out;
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(auto row, q.Step());
    if (!row) break;
    OUTREACH_ASSIGN_OR_RETURN(auto activity, ParseActivity(q.Blob(0)));
    out.push_back(std::move(activity));
  }
  return out;
}

absl::Status SaveActivity(Connection& c, const ActivityKey& key, pb::Activity activity) {
  activity.clear_etag();
  OUTREACH_ASSIGN_OR_RETURN(
      auto q, c.Prepare("INSERT INTO activities (force, campaign_id, activity_id, name, channel, "
                        "state, audiences, scheduled_micros, publish_micros, create_micros, body) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (force, campaign_id, activity_id) DO UPDATE SET "
                        "state = excluded.state, audiences = excluded.audiences, "
                        "scheduled_micros = excluded.scheduled_micros, "
                        "publish_micros = excluded.publish_micros, body = excluded.body"));
  q.Bind(1, key.force)
      .Bind(2, key.campaign)
      .Bind(3, key.activity)
      .Bind(4, activity.name())
      .Bind(5, static_cast<int64_t>(activity.channel()))
      .Bind(6, static_cast<int64_t>(activity.state()))
      .Bind(7, AudienceList(activity.audiences()))
      .Bind(8, MicrosFromProto(activity.scheduled_time()));
  if (activity.has_publish_time()) {
    q.Bind(9, MicrosFromProto(activity.publish_time()));
  } else {
    q.BindNull(9);
  }
  q.Bind(10, MicrosFromProto(activity.create_time())).BindBlob(11, activity.SerializeAsString());
  return q.Run();
}

absl::Status Emit(Connection& c, const std::string& force, const std::string& subject,
                  absl::Time occurred, absl::Time now,
                  const std::function<void(epb::OutreachEvent*)>& fill) {
  epb::OutreachEvent event;
  event.set_force(force);
  event.set_source("campaigns");
  *event.mutable_occurred_time() = ToProtoTime(occurred);
  event.set_subject(subject);
  fill(&event);
  return Outbox::Append(c, std::move(event), now);
}

absl::Status EmitStateChanged(Connection& c, const std::string& force, const pb::Campaign& campaign,
                              cpb::CampaignState previous, absl::Time occurred, absl::Time now) {
  return Emit(c, force, campaign.name(), occurred, now, [&](epb::OutreachEvent* e) {
    auto* p = e->mutable_campaign_state_changed();
    p->set_state(campaign.state());
    p->set_previous_state(previous);
    *p->mutable_audiences() = campaign.audiences();
    *p->mutable_areas() = campaign.areas();
    *p->mutable_start_date() = campaign.start_date();
    *p->mutable_end_date() = campaign.end_date();
    p->set_reach_target(campaign.reach_target());
  });
}

// Audiences of an activity for events: its own, else the campaign's.
google::protobuf::RepeatedField<int> EffectiveAudiences(const pb::Activity& a,
                                                        const pb::Campaign& campaign) {
  return a.audiences().empty() ? campaign.audiences() : a.audiences();
}

std::string TrackingUrl(const pb::Activity& a, const pb::Campaign& campaign,
                        const std::string& campaign_id, const std::string& activity_id) {
  const std::string& link = a.link_uri().empty() ? campaign.landing_page_uri() : a.link_uri();
  const std::string medium = a.utm_medium().empty() ? DefaultMedium(a.channel()) : a.utm_medium();
  return BuildTrackingUrl(link, ChannelSource(a.channel()), medium, campaign_id, activity_id);
}

// Applies the transitions follow_dates made due, with their events, to one campaign.
absl::Status ApplyDueTo(Connection& c, const CampaignKey& key, absl::Time now) {
  OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, key));
  const auto due = DueTransitions(campaign, now);
  for (const auto& t : due) {
    campaign.set_state(t.to);
    *campaign.mutable_state_time() = ToProtoTime(t.at);
    *campaign.mutable_update_time() = ToProtoTime(now);
    OUTREACH_RETURN_IF_ERROR(EmitStateChanged(c, key.force, campaign, t.from, t.at, now));
  }
  if (!due.empty()) OUTREACH_RETURN_IF_ERROR(SaveCampaign(c, key, campaign));
  return absl::OkStatus();
}

constexpr absl::string_view kDueSql =
    "SELECT campaign_id FROM campaigns WHERE force = ? AND follow_dates = 1 AND "
    "((state = 2 AND start_date <= ?) OR (state = 3 AND end_date < ?)) ORDER BY campaign_id";

absl::StatusOr<std::vector<std::string>> DueCampaigns(Connection& c, const std::string& force,
                                                      absl::Time now) {
  const std::string today = FormatDay(LocalDay(now));
  OUTREACH_ASSIGN_OR_RETURN(auto q, c.Prepare(kDueSql));
  q.Bind(1, force).Bind(2, today).Bind(3, today);
  std::vector<std::string> ids;
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(auto row, q.Step());
    if (!row) break;
    ids.push_back(q.Text(0));
  }
  return ids;
}

absl::Status ApplyDue(Connection& c, const std::string& force, absl::Time now) {
  OUTREACH_ASSIGN_OR_RETURN(auto ids, DueCampaigns(c, force, now));
  for (const auto& id : ids) OUTREACH_RETURN_IF_ERROR(ApplyDueTo(c, {force, id}, now));
  return absl::OkStatus();
}

pb::EngagementReport ReadReport(db::Statement& q, int first) {
  pb::EngagementReport r;
  r.set_activity(q.Text(first));
  r.set_channel(static_cast<cpb::Channel>(q.Int64(first + 1)));
  const std::string day = q.Text(first + 2);
  absl::CivilDay d;
  if (absl::ParseCivilTime(day, &d)) *r.mutable_day() = ToProtoDate(d);
  r.set_impressions(q.Int64(first + 3));
  r.set_reach(q.Int64(first + 4));
  r.set_engagements(q.Int64(first + 5));
  r.set_clicks(q.Int64(first + 6));
  r.set_shares(q.Int64(first + 7));
  r.set_attendance(q.Int64(first + 8));
  r.set_copies_distributed(q.Int64(first + 9));
  r.set_revision(q.Int64(first + 10));
  r.set_source(q.Text(first + 11));
  *r.mutable_create_time() = ToProtoTime(db::FromMicros(q.Int64(first + 12)));
  *r.mutable_update_time() = ToProtoTime(db::FromMicros(q.Int64(first + 13)));
  return r;
}

constexpr absl::string_view kReportColumns =
    "activity_name, channel, day, impressions, reach, engagements, clicks, shares, attendance, "
    "copies_distributed, revision, source, create_micros, update_micros";

// A page of rows: COUNT(*) for total_size plus one extra row to know whether more follow.
template <typename T>
absl::StatusOr<Page<T>> RunList(Connection& c, absl::string_view table, absl::string_view columns,
                                const std::string& scope_sql,
                                const std::vector<SqlValue>& scope_params, const SqlFragment& where,
                                const std::string& order, const ListQuery& query,
                                const std::function<absl::StatusOr<T>(db::Statement&)>& read) {
  Page<T> page;
  absl::StatusOr<RowPage> rows =
      SelectPage(c, table, columns, scope_sql, scope_params, where, order, query.page_size,
                 query.offset, [&](db::Statement& row) -> absl::Status {
                   absl::StatusOr<T> item = read(row);
                   if (!item.ok()) return item.status();
                   page.items.push_back(std::move(*item));
                   return absl::OkStatus();
                 });
  if (!rows.ok()) return rows.status();
  page.total_size = rows->total_size;
  page.more = rows->more;
  return page;
}

class SqlCampaignsStore final : public CampaignsStore {
 public:
  explicit SqlCampaignsStore(db::Database* db) : db_(db) {}

  // Reads first apply the transitions follow_dates made due, so that what a caller sees
  // matches the clock. The check is one indexed read; the write happens only when due.
  absl::Status CatchUp(const std::string& force, absl::Time now) {
    bool due = false;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& c) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(auto ids, DueCampaigns(c, force, now));
      due = !ids.empty();
      return absl::OkStatus();
    }));
    if (!due) return absl::OkStatus();
    return db_->Write([&](Connection& c) { return ApplyDue(c, force, now); });
  }

  absl::StatusOr<pb::Campaign> GetCampaign(const CampaignKey& key, absl::Time now) override {
    OUTREACH_RETURN_IF_ERROR(CatchUp(key.force, now));
    pb::Campaign out;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& c) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, key));
      out = std::move(campaign);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<Page<pb::Campaign>> ListCampaigns(const std::string& force, const ListQuery& query,
                                                   absl::Time now) override {
    OUTREACH_ASSIGN_OR_RETURN(auto where, CampaignQuery().Where(QuoteAudienceValues(query.filter)));
    OUTREACH_ASSIGN_OR_RETURN(auto order,
                              CampaignQuery().OrderBy(query.order_by, "start_date desc"));
    OUTREACH_RETURN_IF_ERROR(CatchUp(force, now));
    Page<pb::Campaign> page;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& c) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(
          auto p,
          RunList<pb::Campaign>(c, "campaigns", "body", "force = ?", {force}, where, order, query,
                                [](db::Statement& q) -> absl::StatusOr<pb::Campaign> {
                                  pb::Campaign campaign;
                                  if (!campaign.ParseFromString(q.Blob(0))) {
                                    return absl::InternalError("corrupt campaign row");
                                  }
                                  campaign.set_etag(ComputeEtag(campaign));
                                  return campaign;
                                }));
      page = std::move(p);
      return absl::OkStatus();
    }));
    return page;
  }

  absl::StatusOr<pb::Campaign> CreateCampaign(const CampaignKey& key, const pb::Campaign& input,
                                              const RequestKey& request, absl::Time now) override {
    pb::Campaign out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& c) -> absl::Status {
      if (!request.request_id.empty()) {
        OUTREACH_ASSIGN_OR_RETURN(
            auto seen, RequestLedger::Find(c, key.force, "CreateCampaign", request.request_id,
                                           request.request_hash));
        if (seen.has_value()) {
          if (!out.ParseFromString(*seen)) return absl::InternalError("corrupt ledger entry");
          return absl::OkStatus();
        }
      }
      auto existing = LoadCampaign(c, key);
      if (existing.ok()) return NamedError(AlreadyExists(existing->name()), existing->name());
      if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();
      pb::Campaign campaign = input;
      campaign.set_name(CampaignName(key.force, key.campaign));
      campaign.set_state(cpb::CAMPAIGN_STATE_DRAFT);
      *campaign.mutable_state_time() = ToProtoTime(now);
      campaign.clear_cancel_reason();
      *campaign.mutable_create_time() = ToProtoTime(now);
      *campaign.mutable_update_time() = ToProtoTime(now);
      campaign.clear_etag();
      OUTREACH_RETURN_IF_ERROR(SaveCampaign(c, key, campaign));
      campaign.set_etag(ComputeEtag(campaign));
      if (!request.request_id.empty()) {
        OUTREACH_RETURN_IF_ERROR(RequestLedger::Remember(c, key.force, "CreateCampaign",
                                                         request.request_id, request.request_hash,
                                                         campaign.SerializeAsString(), now));
      }
      out = std::move(campaign);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<pb::Campaign> UpdateCampaign(const CampaignKey& key, const pb::Campaign& patch,
                                              const std::set<std::string>& paths,
                                              absl::Time now) override {
    pb::Campaign out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& c) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(ApplyDue(c, key.force, now));
      OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, key));
      OUTREACH_RETURN_IF_ERROR(
          NamedError(CheckEtag("campaign.etag", campaign.name(), patch.etag(), campaign.etag()),
                     campaign.name()));
      OUTREACH_RETURN_IF_ERROR(CheckOpen(campaign));
      const pb::Campaign before = campaign;
      auto has = [&](const char* p) { return paths.count(p) > 0; };
      if (has("start_date") && campaign.state() == cpb::CAMPAIGN_STATE_ACTIVE &&
          !google::protobuf::util::MessageDifferencer::Equals(campaign.start_date(),
                                                              patch.start_date())) {
        return WithMetadata(
            FailedPrecondition(kCampaignNotDraft, "start_date of an ACTIVE campaign cannot change"),
            {{"state", cpb::CampaignState_Name(campaign.state())}});
      }
      if (has("title")) campaign.set_title(patch.title());
      if (has("description")) campaign.set_description(patch.description());
      if (has("key_messages")) *campaign.mutable_key_messages() = patch.key_messages();
      if (has("audiences")) *campaign.mutable_audiences() = patch.audiences();
      if (has("areas")) *campaign.mutable_areas() = patch.areas();
      if (has("start_date")) {
        if (patch.has_start_date()) {
          *campaign.mutable_start_date() = patch.start_date();
        } else {
          campaign.clear_start_date();
        }
      }
      if (has("end_date")) {
        if (patch.has_end_date()) {
          *campaign.mutable_end_date() = patch.end_date();
        } else {
          campaign.clear_end_date();
        }
      }
      if (has("reach_target")) campaign.set_reach_target(patch.reach_target());
      if (has("landing_page_uri")) campaign.set_landing_page_uri(patch.landing_page_uri());
      if (has("follow_dates")) campaign.set_follow_dates(patch.follow_dates());
      std::vector<FieldViolation> violations;
      ValidateCampaign(campaign, "campaign", nullptr, &violations);
      if (!violations.empty()) return InvalidArguments(std::move(violations));

      const bool dates_changed =
          StartDay(campaign) != StartDay(before) || EndDay(campaign) != EndDay(before);
      const bool link_changed = campaign.landing_page_uri() != before.landing_page_uri();
      if (dates_changed || link_changed) {
        OUTREACH_ASSIGN_OR_RETURN(auto activities, LoadActivities(c, key));
        for (auto& a : activities) {
          if (dates_changed && (a.has_publish_time() || a.state() == pb::ACTIVITY_STATE_PLANNED)) {
            OUTREACH_RETURN_IF_ERROR(CheckInsideCampaign(campaign, ActivityDay(a), a.name()));
          }
          if (link_changed && a.state() == pb::ACTIVITY_STATE_PLANNED && a.link_uri().empty()) {
            const std::string activity_id = a.name().substr(a.name().rfind('/') + 1);
            a.set_tracking_url(TrackingUrl(a, campaign, key.campaign, activity_id));
            *a.mutable_update_time() = ToProtoTime(now);
            OUTREACH_RETURN_IF_ERROR(SaveActivity(c, {key.force, key.campaign, activity_id}, a));
          }
        }
      }
      *campaign.mutable_update_time() = ToProtoTime(now);
      OUTREACH_RETURN_IF_ERROR(SaveCampaign(c, key, campaign));
      if (campaign.state() != cpb::CAMPAIGN_STATE_DRAFT) {
        OUTREACH_RETURN_IF_ERROR(
            EmitStateChanged(c, key.force, campaign, campaign.state(), now, now));
      }
      OUTREACH_RETURN_IF_ERROR(ApplyDueTo(c, key, now));
      OUTREACH_ASSIGN_OR_RETURN(auto saved, LoadCampaign(c, key));
      out = std::move(saved);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::Status DeleteCampaign(const CampaignKey& key, const std::string& etag,
                              absl::Time now) override {
    return db_->Write([&](Connection& c) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(ApplyDue(c, key.force, now));
      OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, key));
      OUTREACH_RETURN_IF_ERROR(
          NamedError(CheckEtag("etag", campaign.name(), etag, campaign.etag()), campaign.name()));
      OUTREACH_RETURN_IF_ERROR(CheckCanDelete(campaign));
      for (const char* sql : {"DELETE FROM engagement_reports WHERE force = ? AND campaign_id = ?",
                              "DELETE FROM activities WHERE force = ? AND campaign_id = ?",
                              "DELETE FROM campaigns WHERE force = ? AND campaign_id = ?"}) {
        OUTREACH_ASSIGN_OR_RETURN(auto q, c.Prepare(sql));
        q.Bind(1, key.force).Bind(2, key.campaign);
        OUTREACH_RETURN_IF_ERROR(q.Run());
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<pb::Campaign> ChangeCampaignState(const CampaignKey& key, const std::string& etag,
                                                   CampaignAction action, const std::string& reason,
                                                   absl::Time now) override {
    pb::Campaign out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& c) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(ApplyDue(c, key.force, now));
      OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, key));
      OUTREACH_RETURN_IF_ERROR(
          NamedError(CheckEtag("etag", campaign.name(), etag, campaign.etag()), campaign.name()));
      const absl::CivilDay today = LocalDay(now);
      cpb::CampaignState to = cpb::CAMPAIGN_STATE_UNSPECIFIED;
      switch (action) {
        case CampaignAction::kSchedule:
          OUTREACH_RETURN_IF_ERROR(CheckCanSchedule(campaign, today));
          to = cpb::CAMPAIGN_STATE_SCHEDULED;
          break;
        case CampaignAction::kActivate:
          OUTREACH_RETURN_IF_ERROR(CheckCanActivate(campaign, today));
          to = cpb::CAMPAIGN_STATE_ACTIVE;
          break;
        case CampaignAction::kComplete:
          OUTREACH_RETURN_IF_ERROR(CheckCanComplete(campaign));
          to = cpb::CAMPAIGN_STATE_COMPLETED;
          break;
        case CampaignAction::kCancel:
          OUTREACH_RETURN_IF_ERROR(CheckCanCancel(campaign));
          to = cpb::CAMPAIGN_STATE_CANCELLED;
          campaign.set_cancel_reason(reason);
          break;
      }
      const cpb::CampaignState from = campaign.state();
      campaign.set_state(to);
      *campaign.mutable_state_time() = ToProtoTime(now);
      *campaign.mutable_update_time() = ToProtoTime(now);
      OUTREACH_RETURN_IF_ERROR(SaveCampaign(c, key, campaign));
      OUTREACH_RETURN_IF_ERROR(EmitStateChanged(c, key.force, campaign, from, now, now));
      // Scheduling a follow_dates campaign whose start has come activates it at once.
      OUTREACH_RETURN_IF_ERROR(ApplyDueTo(c, key, now));
      OUTREACH_ASSIGN_OR_RETURN(auto saved, LoadCampaign(c, key));
      out = std::move(saved);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<pb::Activity> GetActivity(const ActivityKey& key, absl::Time now) override {
    OUTREACH_RETURN_IF_ERROR(CatchUp(key.force, now));
    pb::Activity out;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& c) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(auto activity, LoadActivity(c, key));
      out = std::move(activity);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<Page<pb::Activity>> ListActivities(const CampaignKey& parent,
                                                    const ListQuery& query,
                                                    absl::Time now) override {
    OUTREACH_ASSIGN_OR_RETURN(auto where, ActivityQuery().Where(QuoteAudienceValues(query.filter)));
    OUTREACH_ASSIGN_OR_RETURN(auto order,
                              ActivityQuery().OrderBy(query.order_by, "scheduled_time"));
    OUTREACH_RETURN_IF_ERROR(CatchUp(parent.force, now));
    Page<pb::Activity> page;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& c) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(LoadCampaign(c, parent).status());
      OUTREACH_ASSIGN_OR_RETURN(
          auto p, RunList<pb::Activity>(c, "activities", "body", "force = ? AND campaign_id = ?",
                                        {parent.force, parent.campaign}, where, order, query,
                                        [](db::Statement& q) { return ParseActivity(q.Blob(0)); }));
      page = std::move(p);
      return absl::OkStatus();
    }));
    return page;
  }

  absl::StatusOr<pb::Activity> CreateActivity(const ActivityKey& key, const pb::Activity& input,
                                              const RequestKey& request, absl::Time now) override {
    pb::Activity out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& c) -> absl::Status {
      if (!request.request_id.empty()) {
        OUTREACH_ASSIGN_OR_RETURN(
            auto seen, RequestLedger::Find(c, key.force, "CreateActivity", request.request_id,
                                           request.request_hash));
        if (seen.has_value()) {
          if (!out.ParseFromString(*seen)) return absl::InternalError("corrupt ledger entry");
          return absl::OkStatus();
        }
      }
      OUTREACH_RETURN_IF_ERROR(ApplyDue(c, key.force, now));
      OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, {key.force, key.campaign}));
      const std::string name = ActivityName(key.force, key.campaign, key.activity);
      auto existing = LoadActivity(c, key);
      if (existing.ok()) return NamedError(AlreadyExists(name), name);
      if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();
      OUTREACH_RETURN_IF_ERROR(CheckOpen(campaign));
      OUTREACH_RETURN_IF_ERROR(
          CheckInsideCampaign(campaign, LocalDay(TimeFromProto(input.scheduled_time())), name));
      pb::Activity activity = input;
      activity.set_name(name);
      activity.set_state(pb::ACTIVITY_STATE_PLANNED);
      activity.clear_publish_time();
      activity.clear_withdraw_time();
      activity.clear_withdraw_reason();
      activity.set_tracking_url(TrackingUrl(activity, campaign, key.campaign, key.activity));
      *activity.mutable_create_time() = ToProtoTime(now);
      *activity.mutable_update_time() = ToProtoTime(now);
      activity.clear_etag();
      OUTREACH_RETURN_IF_ERROR(SaveActivity(c, key, activity));
      activity.set_etag(ComputeEtag(activity));
      if (!request.request_id.empty()) {
        OUTREACH_RETURN_IF_ERROR(RequestLedger::Remember(c, key.force, "CreateActivity",
                                                         request.request_id, request.request_hash,
                                                         activity.SerializeAsString(), now));
      }
      out = std::move(activity);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<pb::Activity> UpdateActivity(const ActivityKey& key, const pb::Activity& patch,
                                              const std::set<std::string>& paths,
                                              absl::Time now) override {
    pb::Activity out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& c) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(ApplyDue(c, key.force, now));
      OUTREACH_ASSIGN_OR_RETURN(auto activity, LoadActivity(c, key));
      OUTREACH_RETURN_IF_ERROR(
          NamedError(CheckEtag("activity.etag", activity.name(), patch.etag(), activity.etag()),
                     activity.name()));
      OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, {key.force, key.campaign}));
      OUTREACH_RETURN_IF_ERROR(CheckOpen(campaign));
      const bool only_reference = paths.size() == 1 && paths.count("external_reference") == 1;
      if (activity.state() != pb::ACTIVITY_STATE_PLANNED &&
          !(only_reference && activity.state() == pb::ACTIVITY_STATE_PUBLISHED)) {
        return WithMetadata(
            FailedPrecondition(kActivityNotPlanned,
                               "only a PLANNED activity can change; a PUBLISHED one only its "
                               "external_reference"),
            {{"state", pb::ActivityState_Name(activity.state())}});
      }
      auto has = [&](const char* p) { return paths.count(p) > 0; };
      if (has("title")) activity.set_title(patch.title());
      if (has("message_text")) activity.set_message_text(patch.message_text());
      if (has("link_uri")) activity.set_link_uri(patch.link_uri());
      if (has("utm_medium")) activity.set_utm_medium(patch.utm_medium());
      if (has("scheduled_time")) {
        if (patch.has_scheduled_time()) {
          *activity.mutable_scheduled_time() = patch.scheduled_time();
        } else {
          activity.clear_scheduled_time();
        }
      }
      if (has("audiences")) *activity.mutable_audiences() = patch.audiences();
      if (has("external_reference")) activity.set_external_reference(patch.external_reference());
      std::vector<FieldViolation> violations;
      std::set<std::string> all = {
          "title",          "message_text", "link_uri",          "utm_medium",
          "scheduled_time", "audiences",    "external_reference"};
      ValidateActivity(activity, "activity", &all, &violations);
      if (!violations.empty()) return InvalidArguments(std::move(violations));
      if (has("scheduled_time")) {
        OUTREACH_RETURN_IF_ERROR(
            CheckInsideCampaign(campaign, ActivityDay(activity), activity.name()));
      }
      activity.set_tracking_url(TrackingUrl(activity, campaign, key.campaign, key.activity));
      *activity.mutable_update_time() = ToProtoTime(now);
      OUTREACH_RETURN_IF_ERROR(SaveActivity(c, key, activity));
      OUTREACH_ASSIGN_OR_RETURN(auto saved, LoadActivity(c, key));
      out = std::move(saved);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::Status DeleteActivity(const ActivityKey& key, const std::string& etag,
                              absl::Time now) override {
    return db_->Write([&](Connection& c) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(ApplyDue(c, key.force, now));
      OUTREACH_ASSIGN_OR_RETURN(auto activity, LoadActivity(c, key));
      OUTREACH_RETURN_IF_ERROR(
          NamedError(CheckEtag("etag", activity.name(), etag, activity.etag()), activity.name()));
      if (activity.state() != pb::ACTIVITY_STATE_PLANNED) {
        return WithMetadata(FailedPrecondition(kActivityNotPlanned,
                                               "only a PLANNED activity can be deleted; withdraw "
                                               "it instead"),
                            {{"state", pb::ActivityState_Name(activity.state())}});
      }
      OUTREACH_ASSIGN_OR_RETURN(
          auto q, c.Prepare("DELETE FROM activities WHERE force = ? AND campaign_id = ? "
                            "AND activity_id = ?"));
      q.Bind(1, key.force).Bind(2, key.campaign).Bind(3, key.activity);
      return q.Run();
    });
  }

  absl::StatusOr<pb::Activity> PublishActivity(const ActivityKey& key, const std::string& etag,
                                               absl::Time publish_time,
                                               const std::string& external_reference,
                                               absl::Time now) override {
    pb::Activity out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& c) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(ApplyDue(c, key.force, now));
      OUTREACH_ASSIGN_OR_RETURN(auto activity, LoadActivity(c, key));
      OUTREACH_RETURN_IF_ERROR(
          NamedError(CheckEtag("etag", activity.name(), etag, activity.etag()), activity.name()));
      OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, {key.force, key.campaign}));
      if (activity.state() != pb::ACTIVITY_STATE_PLANNED) {
        return WithMetadata(
            FailedPrecondition(kActivityNotPlanned, "only a PLANNED activity can be published"),
            {{"state", pb::ActivityState_Name(activity.state())}});
      }
      OUTREACH_RETURN_IF_ERROR(CheckLive(campaign));
      OUTREACH_RETURN_IF_ERROR(
          CheckInsideCampaign(campaign, LocalDay(publish_time), activity.name()));
      activity.set_state(pb::ACTIVITY_STATE_PUBLISHED);
      *activity.mutable_publish_time() = ToProtoTime(publish_time);
      if (!external_reference.empty()) activity.set_external_reference(external_reference);
      *activity.mutable_update_time() = ToProtoTime(now);
      OUTREACH_RETURN_IF_ERROR(SaveActivity(c, key, activity));
      OUTREACH_RETURN_IF_ERROR(
          Emit(c, key.force, activity.name(), now, now, [&](epb::OutreachEvent* e) {
            auto* p = e->mutable_activity_published();
            p->set_campaign(campaign.name());
            p->set_channel(activity.channel());
            *p->mutable_audiences() = EffectiveAudiences(activity, campaign);
            *p->mutable_areas() = campaign.areas();
            *p->mutable_publish_time() = activity.publish_time();
          }));
      OUTREACH_ASSIGN_OR_RETURN(auto saved, LoadActivity(c, key));
      out = std::move(saved);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<pb::Activity> WithdrawActivity(const ActivityKey& key, const std::string& etag,
                                                const std::string& reason,
                                                absl::Time now) override {
    pb::Activity out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& c) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(ApplyDue(c, key.force, now));
      OUTREACH_ASSIGN_OR_RETURN(auto activity, LoadActivity(c, key));
      OUTREACH_RETURN_IF_ERROR(
          NamedError(CheckEtag("etag", activity.name(), etag, activity.etag()), activity.name()));
      if (activity.state() == pb::ACTIVITY_STATE_WITHDRAWN) {
        return WithMetadata(
            FailedPrecondition(kActivityWithdrawn, "the activity is already withdrawn"),
            {{"state", pb::ActivityState_Name(activity.state())}});
      }
      const bool was_published = activity.state() == pb::ACTIVITY_STATE_PUBLISHED;
      activity.set_state(pb::ACTIVITY_STATE_WITHDRAWN);
      *activity.mutable_withdraw_time() = ToProtoTime(now);
      activity.set_withdraw_reason(reason);
      *activity.mutable_update_time() = ToProtoTime(now);
      OUTREACH_RETURN_IF_ERROR(SaveActivity(c, key, activity));
      if (was_published) {
        const std::string campaign_name = CampaignName(key.force, key.campaign);
        OUTREACH_RETURN_IF_ERROR(
            Emit(c, key.force, activity.name(), now, now, [&](epb::OutreachEvent* e) {
              auto* p = e->mutable_activity_withdrawn();
              p->set_campaign(campaign_name);
              p->set_channel(activity.channel());
              *p->mutable_withdraw_time() = activity.withdraw_time();
            }));
      }
      OUTREACH_ASSIGN_OR_RETURN(auto saved, LoadActivity(c, key));
      out = std::move(saved);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<pb::ReportEngagementResponse> ReportEngagement(
      const CampaignKey& parent, const std::vector<ReportInput>& reports, absl::Time now) override {
    pb::ReportEngagementResponse out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& c) -> absl::Status {
      out.Clear();
      OUTREACH_RETURN_IF_ERROR(ApplyDue(c, parent.force, now));
      OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, parent));
      // Prepared once per batch: a batch of 500 runs them 500 times.
      OUTREACH_ASSIGN_OR_RETURN(
          auto select,
          c.Prepare(absl::StrCat("SELECT ", kReportColumns,
                                 " FROM engagement_reports WHERE force = ? AND campaign_id = "
                                 "? AND activity_id = ? AND day = ?")));
      OUTREACH_ASSIGN_OR_RETURN(
          auto upsert,
          c.Prepare("INSERT INTO engagement_reports (force, campaign_id, activity_id, "
                    "activity_name, report_key, channel, day, impressions, reach, engagements, "
                    "clicks, shares, attendance, copies_distributed, revision, source, "
                    "create_micros, update_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?, ?, ?, ?) ON CONFLICT (force, campaign_id, activity_id, day) DO "
                    "UPDATE SET impressions = excluded.impressions, reach = excluded.reach, "
                    "engagements = excluded.engagements, clicks = excluded.clicks, "
                    "shares = excluded.shares, attendance = excluded.attendance, "
                    "copies_distributed = excluded.copies_distributed, "
                    "revision = excluded.revision, source = excluded.source, "
                    "update_micros = excluded.update_micros"));
      std::map<std::string, pb::Activity> activities;
      for (size_t i = 0; i < reports.size(); ++i) {
        const ReportInput& in = reports[i];
        auto it = activities.find(in.activity_id);
        if (it == activities.end()) {
          auto activity = LoadActivity(c, {parent.force, parent.campaign, in.activity_id});
          if (!activity.ok()) {
            return WithMetadata(activity.status(), {{"index", absl::StrCat(i)}});
          }
          it = activities.emplace(in.activity_id, std::move(*activity)).first;
        }
        const pb::Activity& activity = it->second;
        OUTREACH_RETURN_IF_ERROR(CheckReportable(activity, in.day, static_cast<int>(i)));
        const std::string day = FormatDay(in.day);

        OUTREACH_RETURN_IF_ERROR(select.Reset());
        select.Bind(1, parent.force).Bind(2, parent.campaign).Bind(3, in.activity_id).Bind(4, day);
        OUTREACH_ASSIGN_OR_RETURN(auto found, select.Step());
        std::optional<pb::EngagementReport> stored;
        if (found) stored = ReadReport(select, 0);
        OUTREACH_RETURN_IF_ERROR(select.Reset());

        if (stored.has_value() && SameNumbers(*stored, in.numbers)) {
          out.set_unchanged(out.unchanged() + 1);
          *out.add_reports() = *stored;
          continue;
        }
        pb::EngagementReport r = in.numbers;
        r.set_activity(activity.name());
        r.set_channel(activity.channel());
        *r.mutable_day() = ToProtoDate(in.day);
        r.set_revision(stored.has_value() ? stored->revision() + 1 : 1);
        *r.mutable_create_time() = stored.has_value() ? stored->create_time() : ToProtoTime(now);
        *r.mutable_update_time() = ToProtoTime(now);
        OUTREACH_RETURN_IF_ERROR(upsert.Reset());
        upsert.Bind(1, parent.force)
            .Bind(2, parent.campaign)
            .Bind(3, in.activity_id)
            .Bind(4, r.activity())
            .Bind(5, absl::StrCat(r.activity(), "|", day))
            .Bind(6, static_cast<int64_t>(r.channel()))
            .Bind(7, day)
            .Bind(8, r.impressions())
            .Bind(9, r.reach())
            .Bind(10, r.engagements())
            .Bind(11, r.clicks())
            .Bind(12, r.shares())
            .Bind(13, r.attendance())
            .Bind(14, r.copies_distributed())
            .Bind(15, r.revision())
            .Bind(16, r.source())
            .Bind(17, MicrosFromProto(r.create_time()))
            .Bind(18, db::ToMicros(now));
        OUTREACH_RETURN_IF_ERROR(upsert.Run());
        OUTREACH_RETURN_IF_ERROR(
            Emit(c, parent.force, activity.name(), now, now, [&](epb::OutreachEvent* e) {
              auto* p = e->mutable_engagement_reported();
              p->set_campaign(campaign.name());
              p->set_channel(activity.channel());
              *p->mutable_audiences() = EffectiveAudiences(activity, campaign);
              *p->mutable_areas() = campaign.areas();
              *p->mutable_day() = r.day();
              p->set_revision(r.revision());
              p->set_impressions(r.impressions());
              p->set_reach(r.reach());
              p->set_engagements(r.engagements());
              p->set_clicks(r.clicks());
              p->set_shares(r.shares());
              p->set_attendance(r.attendance());
              p->set_copies_distributed(r.copies_distributed());
            }));
        if (stored.has_value()) {
          out.set_updated(out.updated() + 1);
        } else {
          out.set_created(out.created() + 1);
        }
        *out.add_reports() = std::move(r);
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<Page<pb::EngagementReport>> ListEngagementReports(const CampaignKey& parent,
                                                                   const ListQuery& query,
                                                                   absl::Time now) override {
    OUTREACH_ASSIGN_OR_RETURN(auto where, ReportQuery().Where(query.filter));
    OUTREACH_ASSIGN_OR_RETURN(auto order, ReportQuery().OrderBy(query.order_by, "day, activity"));
    OUTREACH_RETURN_IF_ERROR(CatchUp(parent.force, now));
    Page<pb::EngagementReport> page;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& c) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(LoadCampaign(c, parent).status());
      OUTREACH_ASSIGN_OR_RETURN(
          auto p, RunList<pb::EngagementReport>(
                      c, "engagement_reports", std::string(kReportColumns),
                      "force = ? AND campaign_id = ?", {parent.force, parent.campaign}, where,
                      order, query, [](db::Statement& q) -> absl::StatusOr<pb::EngagementReport> {
                        return ReadReport(q, 0);
                      }));
      page = std::move(p);
      return absl::OkStatus();
    }));
    return page;
  }

  absl::StatusOr<pb::CampaignSummary> GetCampaignSummary(
      const CampaignKey& key, std::optional<std::pair<absl::CivilDay, absl::CivilDay>> range,
      absl::Time now) override {
    OUTREACH_RETURN_IF_ERROR(CatchUp(key.force, now));
    pb::CampaignSummary out;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& c) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(auto campaign, LoadCampaign(c, key));
      const absl::CivilDay first = range ? range->first : StartDay(campaign);
      const absl::CivilDay last = range ? range->second : EndDay(campaign);
      std::map<int, ChannelFigures> channels;
      {
        OUTREACH_ASSIGN_OR_RETURN(
            auto q, c.Prepare("SELECT channel, COUNT(*), COUNT(publish_micros) FROM "
                              "activities WHERE force = ? AND campaign_id = ? GROUP BY "
                              "channel"));
        q.Bind(1, key.force).Bind(2, key.campaign);
        while (true) {
          OUTREACH_ASSIGN_OR_RETURN(auto row, q.Step());
          if (!row) break;
          ChannelFigures& f = channels[static_cast<int>(q.Int64(0))];
          f.channel = static_cast<cpb::Channel>(q.Int64(0));
          f.activities = static_cast<int32_t>(q.Int64(1));
          f.activities_published = static_cast<int32_t>(q.Int64(2));
        }
      }
      {
        OUTREACH_ASSIGN_OR_RETURN(
            auto q,
            c.Prepare("SELECT channel, SUM(impressions), SUM(reach), SUM(engagements), "
                      "SUM(clicks), SUM(shares), SUM(attendance), SUM(copies_distributed) "
                      "FROM engagement_reports WHERE force = ? AND campaign_id = ? AND day >= "
                      "? AND day <= ? GROUP BY channel"));
        q.Bind(1, key.force)
            .Bind(2, key.campaign)
            .Bind(3, FormatDay(first))
            .Bind(4, FormatDay(last));
        while (true) {
          OUTREACH_ASSIGN_OR_RETURN(auto row, q.Step());
          if (!row) break;
          ChannelFigures& f = channels[static_cast<int>(q.Int64(0))];
          f.channel = static_cast<cpb::Channel>(q.Int64(0));
          f.counts = {q.Int64(1), q.Int64(2), q.Int64(3), q.Int64(4),
                      q.Int64(5), q.Int64(6), q.Int64(7)};
        }
      }
      {
        OUTREACH_ASSIGN_OR_RETURN(
            auto q, c.Prepare("SELECT COUNT(DISTINCT day), MAX(update_micros) FROM "
                              "engagement_reports WHERE force = ? AND campaign_id = ? "
                              "AND day >= ? AND day <= ?"));
        q.Bind(1, key.force)
            .Bind(2, key.campaign)
            .Bind(3, FormatDay(first))
            .Bind(4, FormatDay(last));
        OUTREACH_ASSIGN_OR_RETURN(auto row, q.Step());
        if (row) {
          out.set_days_reported(static_cast<int32_t>(q.Int64(0)));
          if (!q.IsNull(1)) {
            *out.mutable_last_report_time() = ToProtoTime(db::FromMicros(q.Int64(1)));
          }
        }
      }
      std::vector<ChannelFigures> figures;
      for (auto& [_, f] : channels) figures.push_back(f);
      FillSummary(figures, campaign.reach_target(), &out);
      out.set_name(absl::StrCat(campaign.name(), "/summary"));
      out.set_campaign(campaign.name());
      out.set_state(campaign.state());
      *out.mutable_date_range()->mutable_start_date() = ToProtoDate(first);
      *out.mutable_date_range()->mutable_end_date() = ToProtoDate(last);
      *out.mutable_compute_time() = ToProtoTime(now);
      return absl::OkStatus();
    }));
    return out;
  }

 private:
  db::Database* db_;
};

}  // namespace

db::MigrationSet CampaignsMigrations() {
  return {"campaigns", {{1, "campaigns, activities and engagement reports", kSchema}}};
}

std::unique_ptr<CampaignsStore> NewSqlCampaignsStore(db::Database* db) {
  return std::make_unique<SqlCampaignsStore>(db);
}

std::string CampaignName(const std::string& force, const std::string& campaign) {
  return absl::StrCat("forces/", force, "/campaigns/", campaign);
}

std::string ActivityName(const std::string& force, const std::string& campaign,
                         const std::string& activity) {
  return absl::StrCat("forces/", force, "/campaigns/", campaign, "/activities/", activity);
}

}  // namespace outreach::campaigns
