// The load generator and ledger of scripts/soak.sh.
//
//   soak_driver --mode=load   --ledger=FILE --seconds=N [--threads=T] [--max-ops=M] <addresses>
//   soak_driver --mode=verify --ledger=FILE <addresses>
// plus the client security flags of common/client.h (--tls-ca-file, --token-file, …): it is a
// client of the suite like any other, over TLS with a bearer token.
//
// `load` creates a catalogue, prints "soak_driver ready", then drives a steady mixed load through
// the public APIs from T threads for N seconds while the script kills services around it. Every
// write carries a request_id (or is idempotent by content) and is retried with the same request
// on a retryable code; what was acknowledged goes into the ledger FILE. An operation whose retry
// budget runs out stops its thread and stays "pending" in the ledger: `verify` drives it again
// (a client that never heard back retries) once everything is up, then compares the ledger with
// GetDashboard and with the services' own lists, prints lost/double figures and the failed calls
// by code, and exits non-zero on a loss, a double count or a non-retryable code.
//
// Every operation is a pure function of (thread, index, base time), so a retry, or verify's
// re-drive, sends exactly the same request.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/client.h"
#include "common/config.h"
#include "grpcpp/create_channel.h"
#include "outreach/campaigns/v1/campaigns.grpc.pb.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "outreach/training/v1/training.grpc.pb.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/suite_requests.h"

namespace outreach {
namespace {

namespace ws = outreach::workshops::v1;
namespace mt = outreach::metrics::v1;
namespace tr = outreach::training::v1;
namespace cp = outreach::campaigns::v1;
namespace cm = outreach::common::v1;
namespace requests = outreach::testing::requests;

constexpr char kForce[] = "forces/soak";
constexpr int kSetupSchools = 4;
constexpr int kPresentersPerThread = 8;
constexpr int kEngagementDays = 30;
constexpr char kCourseVersion[] = "forces/soak/courses/cyber-soak/versions/v1";
constexpr char kCampaign[] = "forces/soak/campaigns/soak-campaign";

struct Options {
  std::string mode;
  std::string ledger;
  std::string workshops, training, campaigns, metrics;
  int64_t seconds = 120;
  int64_t threads = 4;
  int64_t max_ops = 200000;
  int64_t op_budget_seconds = 45;
  ClientSecurity security;
};

// Failed calls by code, for every call made (writes, their retries and reads).
class CallLog {
 public:
  void Record(const grpc::Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (s.ok()) {
      ++ok_;
    } else {
      ++failed_[s.error_code()];
    }
  }
  int64_t ok() const { return ok_; }
  std::map<int, int64_t> failed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

 private:
  mutable std::mutex mu_;
  int64_t ok_ = 0;
  std::map<int, int64_t> failed_;
};

const char* CodeName(int code) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "?";
}

// The codes a client may retry with the same request: the server or its store was unreachable
// or overloaded, or the answer was lost. ABORTED is listed for the etag-guarded calls, whose
// retry re-reads; none of the load's writes should ever see it.
bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::ABORTED;
}

enum class Outcome { kAcked, kPending, kRejected };

class Driver;

// What one thread saw acknowledged.
struct Ledger {
  int64_t schools = 0;
  int64_t workshops_delivered = 0;
  int64_t pupils = 0;
  int64_t parents = 0;
  int64_t staff = 0;
  int64_t disclosures = 0;
  int64_t enrolments = 0;
  int64_t completions = 0;
  // (thread, day offset) -> impressions last acknowledged; a later report replaces it.
  std::map<std::pair<int, int>, int64_t> impressions;
  int64_t ops = 0;

  void Add(const Ledger& o) {
    schools += o.schools;
    workshops_delivered += o.workshops_delivered;
    pupils += o.pupils;
    parents += o.parents;
    staff += o.staff;
    disclosures += o.disclosures;
    enrolments += o.enrolments;
    completions += o.completions;
    for (const auto& [k, v] : o.impressions) impressions[k] = v;
    ops += o.ops;
  }
  int64_t TotalImpressions() const {
    int64_t sum = 0;
    for (const auto& [k, v] : impressions) sum += v;
    return sum;
  }
};

class Driver {
 public:
  explicit Driver(Options o) : o_(std::move(o)) {
    auto channel = [this](const std::string& a) {
      auto opened = OpenChannel(a, o_.security);
      if (!opened.ok()) {
        std::fprintf(stderr, "soak_driver: %s\n", std::string(opened.status().message()).c_str());
        std::exit(2);
      }
      return *std::move(opened);
    };
    workshops_ = ws::WorkshopsService::NewStub(channel(o_.workshops));
    training_ = tr::TrainingService::NewStub(channel(o_.training));
    campaigns_ = cp::CampaignsService::NewStub(channel(o_.campaigns));
    metrics_ = mt::MetricsService::NewStub(channel(o_.metrics));
  }

  void set_base_time(absl::Time t) { base_ = t; }
  absl::Time base_time() const { return base_; }
  CallLog& calls() { return calls_; }

  // Calls `call` (which fills its reply) until it succeeds, fails with a code that is not
  // retryable, or the budget runs out; backs off between attempts.
  template <typename Call>
  grpc::Status Retry(Call call, absl::Duration budget) {
    const absl::Time give_up = absl::Now() + budget;
    absl::Duration backoff = absl::Milliseconds(50);
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      grpc::Status s = call(&ctx);
      calls_.Record(s);
      if (s.ok() || !Retryable(s.error_code()) || absl::Now() + backoff > give_up) return s;
      absl::SleepFor(backoff);  // retry backoff, not a wait for an effect
      backoff = std::min(backoff * 2, absl::Seconds(1));
    }
  }
  template <typename Call>
  grpc::Status Retry(Call call) {
    return Retry(call, absl::Seconds(o_.op_budget_seconds));
  }

  // A set-up call: retried, and true once acknowledged.
  template <typename Call>
  bool Acked(const char* what, Call call) {
    return Judge(Retry(call), what) == Outcome::kAcked;
  }

  bool Setup();
  Outcome RunOp(int thread, int64_t k, Ledger* l);
  void Read(int64_t k);
  bool SetupSchools(Ledger* l);
  int Verify(const Ledger& ledger, const std::map<int, int64_t>& load_failed);

 private:
  Outcome Judge(const grpc::Status& s, const char* what);
  Outcome CreateSchool(int thread, int64_t n, Ledger* l);
  Outcome Workshop(int thread, int64_t n, Ledger* l);
  Outcome Training(int thread, int64_t n, Ledger* l);
  Outcome Engagement(int thread, int64_t n, Ledger* l);
  std::optional<mt::Dashboard> Dashboard();
  bool SetupWorkshops();
  bool SetupTraining();
  bool SetupCampaign();

  Options o_;
  absl::Time base_;
  CallLog calls_;
  std::unique_ptr<ws::WorkshopsService::Stub> workshops_;
  std::unique_ptr<tr::TrainingService::Stub> training_;
  std::unique_ptr<cp::CampaignsService::Stub> campaigns_;
  std::unique_ptr<mt::MetricsService::Stub> metrics_;
};

Outcome Driver::Judge(const grpc::Status& s, const char* what) {
  if (s.ok()) return Outcome::kAcked;
  if (Retryable(s.error_code())) return Outcome::kPending;
  std::fprintf(stderr, "soak_driver: %s refused: %s %s\n", what, CodeName(s.error_code()),
               s.error_message().c_str());
  return Outcome::kRejected;
}

bool Driver::SetupSchools(Ledger* l) {
  for (int i = 0; i < kSetupSchools; ++i) {
    ws::CreateVenueRequest req =
        requests::School(kForce, absl::StrCat("school-", i), 2000, "derby-city");
    ws::Venue out;
    if (!Acked("CreateVenue",
               [&](grpc::ClientContext* c) { return workshops_->CreateVenue(c, req, &out); }))
      return false;
    ++l->schools;
  }
  return true;
}

bool Driver::SetupWorkshops() {
  const ws::CreateTopicRequest treq = requests::SextingTopic(kForce);
  ws::Topic topic;
  if (!Acked("CreateTopic",
             [&](grpc::ClientContext* c) { return workshops_->CreateTopic(c, treq, &topic); }))
    return false;
  for (int p = 0; p < o_.threads * kPresentersPerThread; ++p) {
    const ws::CreatePresenterRequest preq =
        requests::Presenter(kForce, absl::StrCat("presenter-", p), absl::StrCat("Presenter ", p));
    ws::Presenter presenter;
    if (!Acked("CreatePresenter", [&](grpc::ClientContext* c) {
          return workshops_->CreatePresenter(c, preq, &presenter);
        }))
      return false;
    if (presenter.accreditation().state() == cm::ACCREDITATION_STATE_ACCREDITED) continue;
    const ws::GrantAccreditationRequest grant =
        requests::Grant(presenter, base_ + absl::Hours(24 * 365));
    if (!Acked("GrantAccreditation", [&](grpc::ClientContext* c) {
          return workshops_->GrantAccreditation(c, grant, &presenter);
        }))
      return false;
  }
  return true;
}

bool Driver::SetupTraining() {
  const tr::CreateCourseRequest course = requests::CybercrimeCourse(kForce, "cyber-soak");
  tr::Course created;
  if (!Acked("CreateCourse",
             [&](grpc::ClientContext* c) { return training_->CreateCourse(c, course, &created); }))
    return false;
  const tr::CreateCourseVersionRequest version =
      requests::CourseVersion(created.name(), "v1", {"sexting-law", "digital-evidence"});
  tr::CourseVersion v;
  if (!Acked("CreateCourseVersion", [&](grpc::ClientContext* c) {
        return training_->CreateCourseVersion(c, version, &v);
      }))
    return false;
  const tr::PublishCourseVersionRequest publish = requests::Publish(v);
  return Acked("PublishCourseVersion", [&](grpc::ClientContext* c) {
    return training_->PublishCourseVersion(c, publish, &v);
  });
}

bool Driver::SetupCampaign() {
  const absl::CivilDay today = LocalDay(base_);
  cp::CreateCampaignRequest create = requests::ResidentsCampaign(kForce, today - 60, today + 30);
  create.set_campaign_id("soak-campaign");
  create.set_request_id("campaign-soak");
  create.mutable_campaign()->set_reach_target(1000000);
  cp::Campaign campaign;
  if (!Acked("CreateCampaign", [&](grpc::ClientContext* ctx) {
        return campaigns_->CreateCampaign(ctx, create, &campaign);
      }))
    return false;
  cp::ScheduleCampaignRequest schedule;
  schedule.set_name(campaign.name());
  schedule.set_etag(campaign.etag());
  if (!Acked("ScheduleCampaign", [&](grpc::ClientContext* ctx) {
        return campaigns_->ScheduleCampaign(ctx, schedule, &campaign);
      }))
    return false;
  cp::ActivateCampaignRequest activate;
  activate.set_name(campaign.name());
  activate.set_etag(campaign.etag());
  if (!Acked("ActivateCampaign", [&](grpc::ClientContext* ctx) {
        return campaigns_->ActivateCampaign(ctx, activate, &campaign);
      }))
    return false;
  // One activity per thread, so that each (activity, day) is only ever reported by one thread,
  // in order: the ledger's "last acknowledged value" is then the server's too.
  for (int t = 0; t < o_.threads; ++t) {
    cp::CreateActivityRequest activity;
    activity.set_parent(campaign.name());
    activity.set_activity_id(absl::StrCat("activity-", t));
    activity.set_request_id(absl::StrCat("activity-", t));
    activity.mutable_activity()->set_title(absl::StrCat("Post ", t));
    activity.mutable_activity()->set_channel(cm::CHANNEL_FACEBOOK);
    activity.mutable_activity()->set_message_text("Sexting: know the risks, know who to tell.");
    activity.mutable_activity()->set_link_uri("https://www.example.org/online-safety");
    const absl::Time published = StartOfLocalDay(today - 45) + absl::Hours(10);
    *activity.mutable_activity()->mutable_scheduled_time() = ToProtoTime(published);
    cp::Activity a;
    if (!Acked("CreateActivity", [&](grpc::ClientContext* ctx) {
          return campaigns_->CreateActivity(ctx, activity, &a);
        }))
      return false;
    cp::PublishActivityRequest publish;
    publish.set_name(a.name());
    publish.set_etag(a.etag());
    *publish.mutable_publish_time() = ToProtoTime(published);
    if (!Acked("PublishActivity", [&](grpc::ClientContext* ctx) {
          return campaigns_->PublishActivity(ctx, publish, &a);
        }))
      return false;
  }
  return true;
}

bool Driver::Setup() { return SetupWorkshops() && SetupTraining() && SetupCampaign(); }

// Operation k of a thread: 1 in 10 a new school, 4 a workshop scheduled and delivered, 3 an
// officer enrolled and trained, 1 an engagement report, 1 reads.
Outcome Driver::RunOp(int thread, int64_t k, Ledger* l) {
  const int64_t round = k / 10;
  switch (k % 10) {
    case 0:
      return CreateSchool(thread, round, l);
    case 1:
    case 2:
    case 3:
    case 4:
      return Workshop(thread, round * 4 + (k % 10 - 1), l);
    case 5:
    case 6:
    case 7:
      return Training(thread, round * 3 + (k % 10 - 5), l);
    case 8:
      return Engagement(thread, round, l);
    default:
      Read(k);
      return Outcome::kAcked;
  }
}

Outcome Driver::CreateSchool(int thread, int64_t n, Ledger* l) {
  ws::CreateVenueRequest req =
      requests::School(kForce, absl::StrCat("school-", thread, "-", n), 300, "derby-city");
  ws::Venue out;
  Outcome r =
      Judge(Retry([&](grpc::ClientContext* c) { return workshops_->CreateVenue(c, req, &out); }),
            "CreateVenue");
  if (r == Outcome::kAcked) ++l->schools;
  return r;
}

Outcome Driver::Workshop(int thread, int64_t n, Ledger* l) {
  // Each thread has its own presenters; slot n / kPresentersPerThread of a presenter never
  // overlaps another, so no booking is ever refused as double.
  const int presenter = thread * kPresentersPerThread + static_cast<int>(n % kPresentersPerThread);
  const int64_t slot = n / kPresentersPerThread;
  const absl::Time start = base_ - absl::Minutes(90) * (slot + 2);
  const std::string id = absl::StrCat("w-", thread, "-", n);
  ws::ScheduleWorkshopRequest sreq;
  sreq.set_parent(kForce);
  sreq.set_workshop_id(id);
  sreq.set_request_id("schedule-" + id);
  ws::Workshop* w = sreq.mutable_workshop();
  w->set_title(absl::StrCat("Staying safe online ", id));
  w->set_venue(absl::StrCat(kForce, "/venues/school-", n % kSetupSchools));
  *w->mutable_start_time() = ToProtoTime(start);
  *w->mutable_end_time() = ToProtoTime(start + absl::Hours(1));
  w->set_format(cm::WORKSHOP_FORMAT_WORKSHOP);
  w->add_audiences(cm::WORKSHOP_AUDIENCE_PUPILS);
  w->add_audiences(cm::WORKSHOP_AUDIENCE_PARENTS);
  w->add_audiences(cm::WORKSHOP_AUDIENCE_STAFF);
  w->add_year_groups(8);
  w->add_topics(absl::StrCat(kForce, "/topics/sexting"));
  w->add_presenters(absl::StrCat(kForce, "/presenters/presenter-", presenter));
  ws::Workshop scheduled;
  Outcome r = Judge(Retry([&](grpc::ClientContext* c) {
                      return workshops_->ScheduleWorkshop(c, sreq, &scheduled);
                    }),
                    "ScheduleWorkshop");
  if (r != Outcome::kAcked) return r;

  ws::DeliverWorkshopRequest dreq;
  dreq.set_name(scheduled.name());
  dreq.set_etag(scheduled.etag());
  dreq.set_request_id("deliver-" + id);
  ws::DeliveryRecord* d = dreq.mutable_delivery();
  *d->mutable_delivered_time() = ToProtoTime(start + absl::Minutes(55));
  d->set_actual_duration_minutes(55);
  const int pupils = 20 + static_cast<int>(n % 40);
  const int parents = static_cast<int>(n % 7);
  const int disclosures = n % 5 == 0 ? 1 : 0;
  auto* yg = d->mutable_headcount()->add_pupils();
  yg->set_year_group(8);
  yg->set_pupils(pupils);
  d->mutable_headcount()->set_parents(parents);
  d->mutable_headcount()->set_staff(2);
  d->set_safeguarding_disclosures(disclosures);
  if (disclosures > 0) d->add_referral_references(absl::StrCat("REF-", thread, "-", n));
  ws::Workshop delivered;
  r = Judge(Retry([&](grpc::ClientContext* c) {
              return workshops_->DeliverWorkshop(c, dreq, &delivered);
            }),
            "DeliverWorkshop");
  if (r != Outcome::kAcked) return r;
  l->workshops_delivered += 1;
  l->pupils += pupils;
  l->parents += parents;
  l->staff += 2;
  l->disclosures += disclosures;
  return r;
}

Outcome Driver::Training(int thread, int64_t n, Ledger* l) {
  const std::string id = absl::StrCat(thread, "-", n);
  tr::CreateOfficerRequest officer;
  officer.set_parent(kForce);
  officer.set_officer_id("officer-" + id);
  officer.set_request_id("officer-" + id);
  officer.mutable_officer()->set_staff_number("SK-" + id);
  officer.mutable_officer()->set_role(cm::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  officer.mutable_officer()->set_division("derby-city");
  officer.mutable_officer()->set_active(true);
  tr::Officer o;
  Outcome r =
      Judge(Retry([&](grpc::ClientContext* c) { return training_->CreateOfficer(c, officer, &o); }),
            "CreateOfficer");
  if (r != Outcome::kAcked) return r;
  tr::EnrolOfficerRequest enrol;
  enrol.set_parent(kForce);
  enrol.set_enrolment_id("enrolment-" + id);
  enrol.set_request_id("enrol-" + id);
  enrol.mutable_enrolment()->set_officer(o.name());
  enrol.mutable_enrolment()->set_course_version(kCourseVersion);
  tr::Enrolment e;
  r = Judge(Retry([&](grpc::ClientContext* c) { return training_->EnrolOfficer(c, enrol, &e); }),
            "EnrolOfficer");
  if (r != Outcome::kAcked) return r;
  // Every fourth officer passes only the first module: enrolled, not trained.
  const bool completes = n % 4 != 3;
  for (const char* module : {"sexting-law", "digital-evidence"}) {
    if (!completes && std::string(module) == "digital-evidence") break;
    tr::RecordModuleResultRequest result;
    result.set_name(e.name());
    result.set_module_id(module);
    result.set_score(85);
    *result.mutable_completed_time() = ToProtoTime(base_ - absl::Hours(1));
    r = Judge(
        Retry([&](grpc::ClientContext* c) { return training_->RecordModuleResult(c, result, &e); }),
        "RecordModuleResult");
    if (r != Outcome::kAcked) return r;
  }
  l->enrolments += 1;
  if (completes) l->completions += 1;
  return r;
}

Outcome Driver::Engagement(int thread, int64_t n, Ledger* l) {
  // Day offsets cycle, so after kEngagementDays reports a thread re-reports a day with new
  // numbers, which must replace the old ones on the dashboard, never add to them.
  const int day = static_cast<int>(n % kEngagementDays);
  const int64_t impressions = 100 + (n * 37 + int64_t{thread} * 11) % 900;
  cp::ReportEngagementRequest req;
  req.set_parent(kCampaign);
  cp::EngagementReport* r = req.add_reports();
  r->set_activity(absl::StrCat(kCampaign, "/activities/activity-", thread));
  *r->mutable_day() = ToProtoDate(LocalDay(base_) - 1 - day);
  r->set_impressions(impressions);
  r->set_reach(impressions / 2);
  r->set_engagements(impressions / 20);
  r->set_clicks(impressions / 50);
  cp::ReportEngagementResponse out;
  Outcome o = Judge(
      Retry([&](grpc::ClientContext* c) { return campaigns_->ReportEngagement(c, req, &out); }),
      "ReportEngagement");
  if (o == Outcome::kAcked) l->impressions[{thread, day}] = impressions;
  return o;
}

mt::GetDashboardRequest DashboardRequest(absl::Time base) {
  mt::GetDashboardRequest req;
  req.set_name(absl::StrCat(kForce, "/dashboard"));
  req.mutable_period()->set_kind(mt::PERIOD_KIND_DAY_RANGE);
  *req.mutable_period()->mutable_date_range()->mutable_start_date() =
      ToProtoDate(LocalDay(base) - 400);
  *req.mutable_period()->mutable_date_range()->mutable_end_date() = ToProtoDate(LocalDay(base));
  return req;
}

// Reads are part of the mix but never retried: a failure is only counted.
void Driver::Read(int64_t k) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (k % 20 < 10) {
    mt::Dashboard out;
    calls_.Record(metrics_->GetDashboard(&ctx, DashboardRequest(base_), &out));
  } else {
    ws::ListWorkshopsRequest req;
    req.set_parent(kForce);
    req.set_page_size(20);
    ws::ListWorkshopsResponse out;
    calls_.Record(workshops_->ListWorkshops(&ctx, req, &out));
  }
}

std::optional<mt::Dashboard> Driver::Dashboard() {
  mt::Dashboard out;
  grpc::Status s = Retry([&](grpc::ClientContext* c) {
    return metrics_->GetDashboard(c, DashboardRequest(base_), &out);
  });
  if (!s.ok()) return std::nullopt;
  return out;
}

// ---- the ledger file: `key value` lines, `impressions thread day value`, `pending thread k`,
// `failed CODE count`.

struct LedgerFile {
  Ledger ledger;
  std::vector<std::pair<int, int64_t>> pending;
  std::map<int, int64_t> failed;
  int64_t base_seconds = 0;
  int64_t calls_ok = 0;
  int64_t rejected = 0;
};

bool WriteLedger(const std::string& path, const LedgerFile& f) {
  std::ofstream out(path);
  const Ledger& l = f.ledger;
  out << "base_seconds " << f.base_seconds << "\nschools " << l.schools << "\nworkshops_delivered "
      << l.workshops_delivered << "\npupils " << l.pupils << "\nparents " << l.parents << "\nstaff "
      << l.staff << "\ndisclosures " << l.disclosures << "\nenrolments " << l.enrolments
      << "\ncompletions " << l.completions << "\nops " << l.ops << "\ncalls_ok " << f.calls_ok
      << "\nrejected " << f.rejected << "\n";
  for (const auto& [k, v] : l.impressions) {
    out << "impressions " << k.first << " " << k.second << " " << v << "\n";
  }
  for (const auto& [t, k] : f.pending) out << "pending " << t << " " << k << "\n";
  for (const auto& [code, n] : f.failed) out << "failed " << code << " " << n << "\n";
  return static_cast<bool>(out);
}

bool ReadLedger(const std::string& path, LedgerFile* f) {
  std::ifstream in(path);
  if (!in) return false;
  std::map<std::string, int64_t*> fields = {{"base_seconds", &f->base_seconds},
                                            {"schools", &f->ledger.schools},
                                            {"workshops_delivered", &f->ledger.workshops_delivered},
                                            {"pupils", &f->ledger.pupils},
                                            {"parents", &f->ledger.parents},
                                            {"staff", &f->ledger.staff},
                                            {"disclosures", &f->ledger.disclosures},
                                            {"enrolments", &f->ledger.enrolments},
                                            {"completions", &f->ledger.completions},
                                            {"ops", &f->ledger.ops},
                                            {"calls_ok", &f->calls_ok},
                                            {"rejected", &f->rejected}};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string key;
    s >> key;
    if (key == "impressions") {
      int t = 0, day = 0;
      int64_t v = 0;
      s >> t >> day >> v;
      f->ledger.impressions[{t, day}] = v;
    } else if (key == "pending") {
      int t = 0;
      int64_t k = 0;
      s >> t >> k;
      f->pending.emplace_back(t, k);
    } else if (key == "failed") {
      int code = 0;
      int64_t n = 0;
      s >> code >> n;
      f->failed[code] += n;
    } else if (auto it = fields.find(key); it != fields.end()) {
      s >> *it->second;
    }
  }
  return true;
}

int Load(const Options& o) {
  Driver driver(o);
  driver.set_base_time(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 60 * 60));
  LedgerFile file;
  file.base_seconds = absl::ToUnixSeconds(driver.base_time());
  Ledger setup;
  if (!driver.SetupSchools(&setup) || !driver.Setup()) {
    std::fprintf(stderr, "soak_driver: setup failed\n");
    return 2;
  }
  std::printf("soak_driver ready\n");
  std::fflush(stdout);

  const absl::Time began = absl::Now();
  const absl::Time stop = began + absl::Seconds(o.seconds);
  std::atomic<int64_t> budget{o.max_ops};
  std::atomic<int64_t> rejected{0};
  std::vector<Ledger> ledgers(static_cast<size_t>(o.threads));
  std::vector<int64_t> pending(static_cast<size_t>(o.threads), -1);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t k = 0; absl::Now() < stop && budget.fetch_sub(1) > 0; ++k) {
        const Outcome r = driver.RunOp(t, k, &ledgers[t]);
        ++ledgers[t].ops;
        if (r == Outcome::kRejected) ++rejected;
        if (r == Outcome::kPending) {
          // Later operations of this thread might re-report the same (activity, day): stop
          // here, so that verify's re-drive of this one is still the thread's last word.
          pending[t] = k;
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  file.ledger = setup;
  for (const Ledger& l : ledgers) file.ledger.Add(l);
  for (int t = 0; t < o.threads; ++t) {
    if (pending[t] >= 0) file.pending.emplace_back(t, pending[t]);
  }
  file.failed = driver.calls().failed();
  file.calls_ok = driver.calls().ok();
  file.rejected = rejected.load();
  if (!WriteLedger(o.ledger, file)) {
    std::fprintf(stderr, "soak_driver: cannot write %s\n", o.ledger.c_str());
    return 2;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - began);
  std::printf(
      "soak_driver load done: ops=%lld in %.0f s (%.1f ops/s, %d threads) pending=%zu "
      "rejected=%lld\n",
      static_cast<long long>(file.ledger.ops), seconds,
      static_cast<double>(file.ledger.ops) / seconds, static_cast<int>(o.threads),
      file.pending.size(), static_cast<long long>(file.rejected));
  return 0;
}

struct Figure {
  const char* name;
  int64_t ledger;
  int64_t seen;
  const char* source;
};

int Driver::Verify(const Ledger& ledger, const std::map<int, int64_t>& load_failed) {
  // The dashboard's figures beside the ledger's.
  const auto dashboard_figures = [&ledger](const mt::Dashboard& d) {
    return std::vector<Figure>{
        {"workshops_delivered", ledger.workshops_delivered, d.workshops().workshops_delivered(),
         "dashboard"},
        {"pupils_reached", ledger.pupils, d.workshops().pupils_reached(), "dashboard"},
        {"parents_reached", ledger.parents, d.workshops().parents_reached(), "dashboard"},
        {"staff_reached", ledger.staff, d.workshops().staff_reached(), "dashboard"},
        {"disclosures", ledger.disclosures, d.workshops().safeguarding_disclosures(), "dashboard"},
        {"schools_total", ledger.schools, d.workshops().schools_total(), "dashboard"},
        {"enrolments_created", ledger.enrolments, d.training().enrolments_created(), "dashboard"},
        {"course_completions", ledger.completions, d.training().course_completions(), "dashboard"},
        {"officers_trained", ledger.completions, d.training().officers_trained(), "dashboard"},
        {"impressions", ledger.TotalImpressions(), d.campaigns().impressions(), "dashboard"},
    };
  };
  // Wait (bounded) until every dashboard figure has caught up with the ledger; exact checks
  // follow. Every figure, not a few: the operations re-driven just before this (a create of a
  // school, an enrolment) are still in their outbox when the others have long arrived.
  std::optional<mt::Dashboard> d;
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (true) {
    d = Dashboard();
    if (d) {
      const std::vector<Figure> now = dashboard_figures(*d);
      if (std::all_of(now.begin(), now.end(), [](const Figure& f) { return f.seen >= f.ledger; })) {
        break;
      }
    }
    if (absl::Now() > give_up) break;
    absl::SleepFor(absl::Milliseconds(200));  // poll interval
  }
  if (!d) {
    std::printf("verify: metrics never answered GetDashboard\n");
    return 1;
  }

  // The services' own lists.
  int64_t listed_delivered = 0, listed_pupils = 0, listed_schools = 0;
  int64_t listed_enrolments = 0, listed_completed = 0, listed_impressions = 0;
  bool lists_ok = true;
  std::string token;
  do {
    ws::ListWorkshopsRequest req;
    req.set_parent(kForce);
    req.set_page_size(500);
    req.set_filter("state = WORKSHOP_STATE_DELIVERED");
    req.set_page_token(token);
    ws::ListWorkshopsResponse out;
    lists_ok &=
        Retry([&](grpc::ClientContext* c) { return workshops_->ListWorkshops(c, req, &out); }).ok();
    for (const auto& w : out.workshops()) {
      ++listed_delivered;
      for (const auto& yg : w.delivery().headcount().pupils()) listed_pupils += yg.pupils();
    }
    token = out.next_page_token();
  } while (lists_ok && !token.empty());
  {
    ws::ListVenuesRequest req;
    req.set_parent(kForce);
    req.set_page_size(1);
    ws::ListVenuesResponse out;
    lists_ok &=
        Retry([&](grpc::ClientContext* c) { return workshops_->ListVenues(c, req, &out); }).ok();
    listed_schools = out.total_size();
  }
  token.clear();
  do {
    tr::ListEnrolmentsRequest req;
    req.set_parent(kForce);
    req.set_page_size(500);
    req.set_page_token(token);
    tr::ListEnrolmentsResponse out;
    lists_ok &=
        Retry([&](grpc::ClientContext* c) { return training_->ListEnrolments(c, req, &out); }).ok();
    for (const auto& e : out.enrolments()) {
      ++listed_enrolments;
      if (e.state() == tr::ENROLMENT_STATE_COMPLETED) ++listed_completed;
    }
    token = out.next_page_token();
  } while (lists_ok && !token.empty());
  token.clear();
  do {
    cp::ListEngagementReportsRequest req;
    req.set_parent(kCampaign);
    req.set_page_size(500);
    req.set_page_token(token);
    cp::ListEngagementReportsResponse out;
    lists_ok &= Retry([&](grpc::ClientContext* c) {
                  return campaigns_->ListEngagementReports(c, req, &out);
                }).ok();
    for (const auto& r : out.engagement_reports()) listed_impressions += r.impressions();
    token = out.next_page_token();
  } while (lists_ok && !token.empty());

  std::vector<Figure> figures = dashboard_figures(*d);
  const std::vector<Figure> listed = {
      {"workshops_delivered", ledger.workshops_delivered, listed_delivered, "ListWorkshops"},
      {"pupils_reached", ledger.pupils, listed_pupils, "ListWorkshops"},
      {"venues", ledger.schools, listed_schools, "ListVenues"},
      {"enrolments", ledger.enrolments, listed_enrolments, "ListEnrolments"},
      {"completed", ledger.completions, listed_completed, "ListEnrolments"},
      {"impressions", ledger.TotalImpressions(), listed_impressions, "ListEngagementReports"},
  };
  figures.insert(figures.end(), listed.begin(), listed.end());
  int64_t lost = 0, doubled = 0;
  std::printf("%-22s %-22s %10s %10s %8s %8s\n", "figure", "source", "ledger", "seen", "lost",
              "double");
  for (const Figure& f : figures) {
    const int64_t l = std::max<int64_t>(0, f.ledger - f.seen);
    const int64_t dbl = std::max<int64_t>(0, f.seen - f.ledger);
    lost += l;
    doubled += dbl;
    std::printf("%-22s %-22s %10lld %10lld %8lld %8lld\n", f.name, f.source,
                static_cast<long long>(f.ledger), static_cast<long long>(f.seen),
                static_cast<long long>(l), static_cast<long long>(dbl));
  }
  std::map<int, int64_t> failed = load_failed;
  for (const auto& [code, n] : calls_.failed()) failed[code] += n;
  int64_t non_retryable = 0;
  std::string by_code;
  for (const auto& [code, n] : failed) {
    absl::StrAppend(&by_code, " ", CodeName(code), "=", n);
    if (!Retryable(static_cast<grpc::StatusCode>(code))) non_retryable += n;
  }
  std::printf("failed calls by code:%s\n", by_code.empty() ? " none" : by_code.c_str());
  std::printf("lost=%lld double=%lld non_retryable=%lld lists=%s\n", static_cast<long long>(lost),
              static_cast<long long>(doubled), static_cast<long long>(non_retryable),
              lists_ok ? "ok" : "UNREADABLE");
  return lost == 0 && doubled == 0 && non_retryable == 0 && lists_ok ? 0 : 1;
}

int VerifyMode(const Options& o) {
  LedgerFile file;
  if (!ReadLedger(o.ledger, &file)) {
    std::fprintf(stderr, "soak_driver: cannot read %s\n", o.ledger.c_str());
    return 2;
  }
  Driver driver(o);
  driver.set_base_time(absl::FromUnixSeconds(file.base_seconds));
  // Operations that never heard back during the load: the same requests again, now that
  // everything is up. They were acknowledged once this returns.
  int64_t rejected = file.rejected;
  for (const auto& [t, k] : file.pending) {
    const Outcome r = driver.RunOp(t, k, &file.ledger);
    if (r != Outcome::kAcked) {
      std::fprintf(stderr, "soak_driver: pending op %d/%lld still not acknowledged\n", t,
                   static_cast<long long>(k));
      ++rejected;
    }
  }
  const int64_t calls_ok = file.calls_ok + driver.calls().ok();
  std::printf("ops=%lld (pending after load: %zu, re-driven) calls_ok=%lld rejected=%lld\n",
              static_cast<long long>(file.ledger.ops), file.pending.size(),
              static_cast<long long>(calls_ok), static_cast<long long>(rejected));
  const int rc = driver.Verify(file.ledger, file.failed);
  return rc != 0 ? rc : (rejected == 0 ? 0 : 1);
}

void RegisterOptions(ConfigParser& parser, Options* o) {
  // SOAK_ for the environment: OUTREACH_ is the services' own settings, which soak.sh also sets.
  parser.String("mode", &o->mode, std::nullopt, "load or verify", [](const std::string& v) {
    return v == "load" || v == "verify" ? absl::OkStatus()
                                        : absl::InvalidArgumentError("is not load or verify");
  });
  parser.String("ledger", &o->ledger, std::nullopt, "the ledger file", ValidateNotEmpty);
  parser.String("workshops", &o->workshops, std::nullopt, "workshops host:port", ValidateHostPort);
  parser.String("training", &o->training, std::nullopt, "training host:port", ValidateHostPort);
  parser.String("campaigns", &o->campaigns, std::nullopt, "campaigns host:port", ValidateHostPort);
  parser.String("metrics", &o->metrics, std::nullopt, "metrics host:port", ValidateHostPort);
  parser.Int("seconds", &o->seconds, 120, 1, 86400, "how long the load runs");
  parser.Int("threads", &o->threads, 4, 1, 16, "load threads");
  parser.Int("max-ops", &o->max_ops, 200000, 0, int64_t{1} << 40, "operations at most");
  parser.Int("op-budget-seconds", &o->op_budget_seconds, 45, 1, 3600,
             "how long one operation is retried before it is left pending");
  RegisterClientSecuritySettings(parser, &o->security);
}

}  // namespace
}  // namespace outreach

int main(int argc, char** argv) {
  outreach::Options o;
  outreach::ConfigParser parser("soak_driver", "SOAK_");
  outreach::RegisterOptions(parser, &o);
  outreach::ParseConfigOrExit(parser, argc, argv);
  return o.mode == "load" ? outreach::Load(o) : outreach::VerifyMode(o);
}
