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
#include "common/store_kit.h"
#include "common/store_support.h"
#include "services/campaigns/operations.h"

namespace outreach::campaigns {
namespace {

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

// Rows written before etags were stored kept an empty one; its etag is then the hash the old
// code computed on read, so clients' etags from before stay valid until the next write.
template <typename M>
absl::StatusOr<M> ParseBody(const std::string& blob, absl::string_view table) {
  M m;
  if (!m.ParseFromString(blob)) {
    return absl::InternalError(absl::StrCat("stored row of ", table, " does not parse"));
  }
  if (m.etag().empty()) m.set_etag(ComputeEtag(m));
  return m;
}

// Fetches the body of the single row `q` selects, or nullopt.
template <typename M>
absl::StatusOr<std::optional<M>> FetchBody(db::Statement& q, absl::string_view table) {
  OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<M>();
  OUTREACH_ASSIGN_OR_RETURN(M m, ParseBody<M>(q.Blob(0), table));
  return std::optional<M>(std::move(m));
}

constexpr absl::string_view kReportColumns =
    "activity_name, channel, day, impressions, reach, engagements, clicks, shares, attendance, "
    "copies_distributed, revision, source, create_micros, update_micros";

pb::EngagementReport ReadReport(db::Statement& q) {
  pb::EngagementReport r;
  r.set_activity(q.Text(0));
  r.set_channel(static_cast<cpb::Channel>(q.Int64(1)));
  absl::CivilDay d;
  if (absl::ParseCivilTime(q.Text(2), &d)) *r.mutable_day() = ToProtoDate(d);
  r.set_impressions(q.Int64(3));
  r.set_reach(q.Int64(4));
  r.set_engagements(q.Int64(5));
  r.set_clicks(q.Int64(6));
  r.set_shares(q.Int64(7));
  r.set_attendance(q.Int64(8));
  r.set_copies_distributed(q.Int64(9));
  r.set_revision(q.Int64(10));
  r.set_source(q.Text(11));
  *r.mutable_create_time() = ToProtoTime(db::FromMicros(q.Int64(12)));
  *r.mutable_update_time() = ToProtoTime(db::FromMicros(q.Int64(13)));
  return r;
}

constexpr absl::string_view kDueSql =
    "SELECT campaign_id FROM campaigns WHERE force = ? AND follow_dates = 1 AND "
    "((state = 2 AND start_date <= ?) OR (state = 3 AND end_date < ?)) ORDER BY campaign_id";

constexpr absl::string_view kUpsertReportSql =
    "INSERT INTO engagement_reports (force, campaign_id, activity_id, activity_name, report_key, "
    "channel, day, impressions, reach, engagements, clicks, shares, attendance, "
    "copies_distributed, revision, source, create_micros, update_micros) VALUES (?, ?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, campaign_id, activity_id, day) DO "
    "UPDATE SET impressions = excluded.impressions, reach = excluded.reach, "
    "engagements = excluded.engagements, clicks = excluded.clicks, shares = excluded.shares, "
    "attendance = excluded.attendance, copies_distributed = excluded.copies_distributed, "
    "revision = excluded.revision, source = excluded.source, "
    "update_micros = excluded.update_micros";

// The campaign tables as CampaignRecords, inside one transaction on `c`. The report statements
// are prepared once per transaction: a batch of 500 reports runs them 500 times.
class SqlRecords final : public CampaignRecords {
 public:
  explicit SqlRecords(Connection& c) : c_(c) {}

  absl::StatusOr<std::optional<pb::Campaign>> FindCampaign(const CampaignKey& key) override {
    OUTREACH_ASSIGN_OR_RETURN(
        db::Statement q,
        c_.Prepare("SELECT body FROM campaigns WHERE force = ? AND campaign_id = ?"));
    q.Bind(1, key.force).Bind(2, key.campaign);
    return FetchBody<pb::Campaign>(q, "campaigns");
  }

  absl::Status PutCampaign(const CampaignKey& key, const pb::Campaign& campaign) override {
    OUTREACH_ASSIGN_OR_RETURN(
        db::Statement q,
        c_.Prepare("INSERT INTO campaigns (force, campaign_id, name, state, title, audiences, "
                   "areas, start_date, end_date, follow_dates, create_micros, update_micros, "
                   "body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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

  absl::Status DeleteCampaign(const CampaignKey& key) override {
    for (const char* sql : {"DELETE FROM engagement_reports WHERE force = ? AND campaign_id = ?",
                            "DELETE FROM activities WHERE force = ? AND campaign_id = ?",
                            "DELETE FROM campaigns WHERE force = ? AND campaign_id = ?"}) {
      OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c_.Prepare(sql));
      q.Bind(1, key.force).Bind(2, key.campaign);
      OUTREACH_RETURN_IF_ERROR(q.Run());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> MaybeDueCampaigns(const std::string& force,
                                                             absl::CivilDay today) override {
    return DueCampaigns(c_, force, today);
  }

  absl::StatusOr<std::optional<pb::Activity>> FindActivity(const ActivityKey& key) override {
    OUTREACH_ASSIGN_OR_RETURN(db::Statement q,
                              c_.Prepare("SELECT body FROM activities WHERE force = ? AND "
                                         "campaign_id = ? AND activity_id = ?"));
    q.Bind(1, key.force).Bind(2, key.campaign).Bind(3, key.activity);
    return FetchBody<pb::Activity>(q, "activities");
  }

  absl::StatusOr<std::vector<pb::Activity>> ActivitiesOf(const CampaignKey& key) override {
    OUTREACH_ASSIGN_OR_RETURN(db::Statement q,
                              c_.Prepare("SELECT body FROM activities WHERE force = ? AND "
                                         "campaign_id = ? ORDER BY name"));
    q.Bind(1, key.force).Bind(2, key.campaign);
    std::vector<pb::Activity> out;
    while (true) {
      OUTREACH_ASSIGN_OR_RETURN(std::optional<pb::Activity> a,
                                FetchBody<pb::Activity>(q, "activities"));
      if (!a) break;
      out.push_back(std::move(*a));
    }
    return out;
  }

  absl::Status PutActivity(const ActivityKey& key, const pb::Activity& activity) override {
    OUTREACH_ASSIGN_OR_RETURN(
        db::Statement q,
        c_.Prepare("INSERT INTO activities (force, campaign_id, activity_id, name, channel, "
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

  absl::Status DeleteActivity(const ActivityKey& key) override {
    OUTREACH_ASSIGN_OR_RETURN(
        db::Statement q, c_.Prepare("DELETE FROM activities WHERE force = ? AND campaign_id = ? "
                                    "AND activity_id = ?"));
    q.Bind(1, key.force).Bind(2, key.campaign).Bind(3, key.activity);
    return q.Run();
  }

  absl::StatusOr<std::optional<pb::EngagementReport>> FindReport(const ActivityKey& key,
                                                                 absl::CivilDay day) override {
    if (!select_report_) {
      OUTREACH_ASSIGN_OR_RETURN(
          db::Statement q,
          c_.Prepare(absl::StrCat("SELECT ", kReportColumns,
                                  " FROM engagement_reports WHERE force = ? AND campaign_id = ? "
                                  "AND activity_id = ? AND day = ?")));
      select_report_.emplace(std::move(q));
    }
    db::Statement& q = *select_report_;
    OUTREACH_RETURN_IF_ERROR(q.Reset());
    q.Bind(1, key.force).Bind(2, key.campaign).Bind(3, key.activity).Bind(4, FormatDay(day));
    OUTREACH_ASSIGN_OR_RETURN(bool found, q.Step());
    std::optional<pb::EngagementReport> stored;
    if (found) stored = ReadReport(q);
    OUTREACH_RETURN_IF_ERROR(q.Reset());
    return stored;
  }

  absl::Status PutReport(const ActivityKey& key, absl::CivilDay day,
                         const pb::EngagementReport& r) override {
    if (!upsert_report_) {
      OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c_.Prepare(kUpsertReportSql));
      upsert_report_.emplace(std::move(q));
    }
    db::Statement& q = *upsert_report_;
    OUTREACH_RETURN_IF_ERROR(q.Reset());
    const std::string d = FormatDay(day);
    q.Bind(1, key.force)
        .Bind(2, key.campaign)
        .Bind(3, key.activity)
        .Bind(4, r.activity())
        .Bind(5, absl::StrCat(r.activity(), "|", d))
        .Bind(6, static_cast<int64_t>(r.channel()))
        .Bind(7, d)
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
        .Bind(18, MicrosFromProto(r.update_time()));
    return q.Run();
  }

  absl::Status Emit(epb::OutreachEvent event, absl::Time now) override {
    return Outbox::Append(c_, std::move(event), now);
  }

  static absl::StatusOr<std::vector<std::string>> DueCampaigns(Connection& c,
                                                               const std::string& force,
                                                               absl::CivilDay today) {
    const std::string day = FormatDay(today);
    OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c.Prepare(kDueSql));
    q.Bind(1, force).Bind(2, day).Bind(3, day);
    std::vector<std::string> ids;
    while (true) {
      OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ids.push_back(q.Text(0));
    }
    return ids;
  }

 private:
  Connection& c_;
  std::optional<db::Statement> select_report_;
  std::optional<db::Statement> upsert_report_;
};

// One page of rows under `scope_sql`, each read by `read`.
template <typename T>
absl::StatusOr<ListPage<T>> SelectListPage(
    Connection& c, absl::string_view table, absl::string_view columns, absl::string_view scope_sql,
    const std::vector<SqlValue>& scope_params, const SqlFragment& where, const std::string& order,
    const ListQuery& query, const std::function<absl::StatusOr<T>(db::Statement&)>& read) {
  ListPage<T> page;
  OUTREACH_ASSIGN_OR_RETURN(RowPage rows, SelectPage(c, table, columns, scope_sql, scope_params,
                                                     where, order, query.page_size, query.offset,
                                                     [&](db::Statement& row) -> absl::Status {
                                                       OUTREACH_ASSIGN_OR_RETURN(T item, read(row));
                                                       page.items.push_back(std::move(item));
                                                       return absl::OkStatus();
                                                     }));
  page.total_size = rows.total_size;
  if (rows.more) page.next_offset = query.offset + static_cast<int64_t>(page.items.size());
  return page;
}

// The summary's figures per channel: activities (published or not) and the sums of the
// reports dated in [first, last].
absl::StatusOr<std::vector<ChannelFigures>> ChannelFiguresOf(Connection& c, const CampaignKey& key,
                                                             absl::CivilDay first,
                                                             absl::CivilDay last) {
  std::map<int, ChannelFigures> channels;
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement activities,
      c.Prepare("SELECT channel, COUNT(*), COUNT(publish_micros) FROM activities WHERE "
                "force = ? AND campaign_id = ? GROUP BY channel"));
  activities.Bind(1, key.force).Bind(2, key.campaign);
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(bool row, activities.Step());
    if (!row) break;
    ChannelFigures& f = channels[static_cast<int>(activities.Int64(0))];
    f.channel = static_cast<cpb::Channel>(activities.Int64(0));
    f.activities = static_cast<int32_t>(activities.Int64(1));
    f.activities_published = static_cast<int32_t>(activities.Int64(2));
  }
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement sums,
      c.Prepare("SELECT channel, SUM(impressions), SUM(reach), SUM(engagements), SUM(clicks), "
                "SUM(shares), SUM(attendance), SUM(copies_distributed) FROM engagement_reports "
                "WHERE force = ? AND campaign_id = ? AND day >= ? AND day <= ? GROUP BY channel"));
  sums.Bind(1, key.force).Bind(2, key.campaign).Bind(3, FormatDay(first)).Bind(4, FormatDay(last));
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(bool row, sums.Step());
    if (!row) break;
    ChannelFigures& f = channels[static_cast<int>(sums.Int64(0))];
    f.channel = static_cast<cpb::Channel>(sums.Int64(0));
    f.counts = {sums.Int64(1), sums.Int64(2), sums.Int64(3), sums.Int64(4),
                sums.Int64(5), sums.Int64(6), sums.Int64(7)};
  }
  std::vector<ChannelFigures> figures;
  figures.reserve(channels.size());
  for (auto& [_, f] : channels) figures.push_back(f);
  return figures;
}

class SqlCampaignsStore final : public CampaignsStore {
 public:
  explicit SqlCampaignsStore(db::Database* db) : db_(db) {}

  // Reads first apply the transitions follow_dates made due, so that what a caller sees
  // matches the clock. The check is one indexed read; the write happens only when due.
  absl::Status CatchUp(const std::string& force, absl::Time now) {
    OUTREACH_ASSIGN_OR_RETURN(std::vector<std::string> due,
                              ReadValue<std::vector<std::string>>(db_, [&](Connection& c) {
                                return SqlRecords::DueCampaigns(c, force, LocalDay(now));
                              }));
    if (due.empty()) return absl::OkStatus();
    return db_->Write([&](Connection& c) {
      SqlRecords records(c);
      return ApplyDue(records, force, now);
    });
  }

  // Runs one operation in a write transaction.
  template <typename T>
  absl::StatusOr<T> Change(absl::FunctionRef<absl::StatusOr<T>(CampaignRecords&)> op) {
    return WriteValue<T>(db_, [&](Connection& c) -> absl::StatusOr<T> {
      SqlRecords records(c);
      return op(records);
    });
  }
  absl::Status ChangeOnly(absl::FunctionRef<absl::Status(CampaignRecords&)> op) {
    return db_->Write([&](Connection& c) {
      SqlRecords records(c);
      return op(records);
    });
  }

  absl::StatusOr<pb::Campaign> GetCampaign(const CampaignKey& key, absl::Time now) override {
    OUTREACH_RETURN_IF_ERROR(CatchUp(key.force, now));
    return ReadValue<pb::Campaign>(db_, [&](Connection& c) {
      SqlRecords records(c);
      return MustFindCampaign(records, key);
    });
  }

  absl::StatusOr<ListPage<pb::Campaign>> ListCampaigns(const std::string& force,
                                                       const ListQuery& query,
                                                       absl::Time now) override {
    OUTREACH_ASSIGN_OR_RETURN(SqlFragment where,
                              CampaignQuery().Where(QuoteAudienceValues(query.filter)));
    OUTREACH_ASSIGN_OR_RETURN(std::string order,
                              CampaignQuery().OrderBy(query.order_by, "start_date desc"));
    OUTREACH_RETURN_IF_ERROR(CatchUp(force, now));
    return ReadValue<ListPage<pb::Campaign>>(db_, [&](Connection& c) {
      return SelectListPage<pb::Campaign>(
          c, "campaigns", "body", "force = ?", {force}, where, order, query,
          [](db::Statement& q) { return ParseBody<pb::Campaign>(q.Blob(0), "campaigns"); });
    });
  }

  absl::StatusOr<pb::Campaign> CreateCampaign(const CampaignKey& key, const pb::Campaign& input,
                                              const RequestKey& request, absl::Time now) override {
    return WriteValue<pb::Campaign>(db_, [&](Connection& c) {
      SqlRecords records(c);
      return CreateOnce<pb::Campaign>(c, {key.force, "CreateCampaign", request, now}, [&]() {
        return campaigns::CreateCampaign(records, key, input, now);
      });
    });
  }

  absl::StatusOr<pb::Campaign> UpdateCampaign(const CampaignKey& key, const pb::Campaign& patch,
                                              const std::set<std::string>& paths,
                                              absl::Time now) override {
    return Change<pb::Campaign>([&](CampaignRecords& records) {
      return campaigns::UpdateCampaign(records, key, patch, paths, now);
    });
  }

  absl::Status DeleteCampaign(const CampaignKey& key, const std::string& etag,
                              absl::Time now) override {
    return ChangeOnly([&](CampaignRecords& records) {
      return campaigns::DeleteCampaign(records, key, etag, now);
    });
  }

  absl::StatusOr<pb::Campaign> ChangeCampaignState(const CampaignKey& key, const std::string& etag,
                                                   CampaignAction action, const std::string& reason,
                                                   absl::Time now) override {
    return Change<pb::Campaign>([&](CampaignRecords& records) {
      return campaigns::ChangeCampaignState(records, key, etag, action, reason, now);
    });
  }

  absl::StatusOr<pb::Activity> GetActivity(const ActivityKey& key, absl::Time now) override {
    OUTREACH_RETURN_IF_ERROR(CatchUp(key.force, now));
    return ReadValue<pb::Activity>(db_, [&](Connection& c) {
      SqlRecords records(c);
      return MustFindActivity(records, key);
    });
  }

  absl::StatusOr<ListPage<pb::Activity>> ListActivities(const CampaignKey& parent,
                                                        const ListQuery& query,
                                                        absl::Time now) override {
    OUTREACH_ASSIGN_OR_RETURN(SqlFragment where,
                              ActivityQuery().Where(QuoteAudienceValues(query.filter)));
    OUTREACH_ASSIGN_OR_RETURN(std::string order,
                              ActivityQuery().OrderBy(query.order_by, "scheduled_time"));
    OUTREACH_RETURN_IF_ERROR(CatchUp(parent.force, now));
    return ReadValue<ListPage<pb::Activity>>(
        db_, [&](Connection& c) -> absl::StatusOr<ListPage<pb::Activity>> {
          SqlRecords records(c);
          OUTREACH_RETURN_IF_ERROR(MustFindCampaign(records, parent).status());
          return SelectListPage<pb::Activity>(
              c, "activities", "body", "force = ? AND campaign_id = ?",
              {parent.force, parent.campaign}, where, order, query,
              [](db::Statement& q) { return ParseBody<pb::Activity>(q.Blob(0), "activities"); });
        });
  }

  absl::StatusOr<pb::Activity> CreateActivity(const ActivityKey& key, const pb::Activity& input,
                                              const RequestKey& request, absl::Time now) override {
    return WriteValue<pb::Activity>(db_, [&](Connection& c) {
      SqlRecords records(c);
      return CreateOnce<pb::Activity>(c, {key.force, "CreateActivity", request, now}, [&]() {
        return campaigns::CreateActivity(records, key, input, now);
      });
    });
  }

  absl::StatusOr<pb::Activity> UpdateActivity(const ActivityKey& key, const pb::Activity& patch,
                                              const std::set<std::string>& paths,
                                              absl::Time now) override {
    return Change<pb::Activity>([&](CampaignRecords& records) {
      return campaigns::UpdateActivity(records, key, patch, paths, now);
    });
  }

  absl::Status DeleteActivity(const ActivityKey& key, const std::string& etag,
                              absl::Time now) override {
    return ChangeOnly([&](CampaignRecords& records) {
      return campaigns::DeleteActivity(records, key, etag, now);
    });
  }

  absl::StatusOr<pb::Activity> PublishActivity(const ActivityKey& key, const std::string& etag,
                                               absl::Time publish_time,
                                               const std::string& external_reference,
                                               absl::Time now) override {
    return Change<pb::Activity>([&](CampaignRecords& records) {
      return campaigns::PublishActivity(records, key, etag, publish_time, external_reference, now);
    });
  }

  absl::StatusOr<pb::Activity> WithdrawActivity(const ActivityKey& key, const std::string& etag,
                                                const std::string& reason,
                                                absl::Time now) override {
    return Change<pb::Activity>([&](CampaignRecords& records) {
      return campaigns::WithdrawActivity(records, key, etag, reason, now);
    });
  }

  absl::StatusOr<pb::ReportEngagementResponse> ReportEngagement(
      const CampaignKey& parent, const std::vector<ReportInput>& reports, absl::Time now) override {
    return Change<pb::ReportEngagementResponse>([&](CampaignRecords& records) {
      return campaigns::ReportEngagement(records, parent, reports, now);
    });
  }

  absl::StatusOr<ListPage<pb::EngagementReport>> ListEngagementReports(const CampaignKey& parent,
                                                                       const ListQuery& query,
                                                                       absl::Time now) override {
    OUTREACH_ASSIGN_OR_RETURN(SqlFragment where, ReportQuery().Where(query.filter));
    OUTREACH_ASSIGN_OR_RETURN(std::string order,
                              ReportQuery().OrderBy(query.order_by, "day, activity"));
    OUTREACH_RETURN_IF_ERROR(CatchUp(parent.force, now));
    return ReadValue<ListPage<pb::EngagementReport>>(
        db_, [&](Connection& c) -> absl::StatusOr<ListPage<pb::EngagementReport>> {
          SqlRecords records(c);
          OUTREACH_RETURN_IF_ERROR(MustFindCampaign(records, parent).status());
          return SelectListPage<pb::EngagementReport>(
              c, "engagement_reports", kReportColumns, "force = ? AND campaign_id = ?",
              {parent.force, parent.campaign}, where, order, query,
              [](db::Statement& q) -> absl::StatusOr<pb::EngagementReport> {
                return ReadReport(q);
              });
        });
  }

  absl::StatusOr<pb::CampaignSummary> GetCampaignSummary(
      const CampaignKey& key, std::optional<std::pair<absl::CivilDay, absl::CivilDay>> range,
      absl::Time now) override {
    OUTREACH_RETURN_IF_ERROR(CatchUp(key.force, now));
    return ReadValue<pb::CampaignSummary>(
        db_, [&](Connection& c) -> absl::StatusOr<pb::CampaignSummary> {
          SqlRecords records(c);
          OUTREACH_ASSIGN_OR_RETURN(pb::Campaign campaign, MustFindCampaign(records, key));
          const absl::CivilDay first = range ? range->first : StartDay(campaign);
          const absl::CivilDay last = range ? range->second : EndDay(campaign);
          OUTREACH_ASSIGN_OR_RETURN(std::vector<ChannelFigures> figures,
                                    ChannelFiguresOf(c, key, first, last));
          pb::CampaignSummary out;
          OUTREACH_ASSIGN_OR_RETURN(
              db::Statement q,
              c.Prepare("SELECT COUNT(DISTINCT day), MAX(update_micros) FROM engagement_reports "
                        "WHERE force = ? AND campaign_id = ? AND day >= ? AND day <= ?"));
          q.Bind(1, key.force)
              .Bind(2, key.campaign)
              .Bind(3, FormatDay(first))
              .Bind(4, FormatDay(last));
          OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
          if (row) {
            out.set_days_reported(static_cast<int32_t>(q.Int64(0)));
            if (!q.IsNull(1)) {
              *out.mutable_last_report_time() = ToProtoTime(db::FromMicros(q.Int64(1)));
            }
          }
          FillSummary(figures, campaign.reach_target(), &out);
          out.set_name(absl::StrCat(campaign.name(), "/summary"));
          out.set_campaign(campaign.name());
          out.set_state(campaign.state());
          *out.mutable_date_range()->mutable_start_date() = ToProtoDate(first);
          *out.mutable_date_range()->mutable_end_date() = ToProtoDate(last);
          *out.mutable_compute_time() = ToProtoTime(now);
          return out;
        });
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

}  // namespace outreach::campaigns
