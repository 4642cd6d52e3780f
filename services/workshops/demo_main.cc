// workshops_demo --target=127.0.0.1:50051 --force=derbyshire --tls-ca-file=data/pki/ca.pem
//     --token-file=data/pki/demo.token
//
// Loads demo data through the public gRPC API: Derbyshire schools and community venues
// (invented names), Digital Media Investigation Unit and Safer Neighbourhood presenters (role
// titles and pseudonymous staff numbers, no real people), the University of Derby as partner,
// a topic catalogue on sexting, CSE, grooming and app privacy (Snapchat, KIK, Instagram), and
// sessions for pupils, parents and teachers, some delivered with headcounts. Idempotent: fixed
// ids and request_ids, ALREADY_EXISTS tolerated, deliveries only for SCHEDULED workshops.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/client.h"
#include "common/config.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"

namespace {

namespace wv1 = ::outreach::workshops::v1;
namespace cv1 = ::outreach::common::v1;

std::unique_ptr<grpc::ClientContext> Deadline() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

// One progress line per step; false (and a reason) on an error that is not "already there".
bool Report(const std::string& step, const grpc::Status& status) {
  if (status.ok()) {
    std::printf("workshops_demo: %s: ok\n", step.c_str());
    return true;
  }
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    std::printf("workshops_demo: %s: already there\n", step.c_str());
    return true;
  }
  std::fprintf(stderr, "workshops_demo: %s: FAILED %d %s\n", step.c_str(),
               static_cast<int>(status.error_code()), status.error_message().c_str());
  return false;
}

struct VenueSpec {
  const char* id;
  const char* display_name;
  cv1::VenueKind kind;
  const char* area;
  int roll;
  const char* postcode;
};

struct PresenterSpec {
  const char* id;
  const char* display_name;
  cv1::PresenterTeam team;
  const char* organisation;
};

struct TopicSpec {
  const char* id;
  const char* display_name;
  const char* description;
  wv1::TopicCategory category;
  int min_year, max_year;
  bool pupils, adults;
};

struct SessionSpec {
  const char* id;
  const char* title;
  const char* venue;
  int day_offset;     // days from today (negative = past)
  int start_minutes;  // minutes after local midnight
  int length_minutes;
  cv1::WorkshopFormat format;
  std::vector<cv1::WorkshopAudience> audiences;
  std::vector<int> years;
  std::vector<const char*> topics;
  std::vector<const char*> presenters;
  const char* partner;
  // Delivery (past sessions only): pupils per year group, parents, staff, community.
  std::vector<std::pair<int, int>> pupils;
  int parents, staff, community;
  int disclosures;
};

class Demo {
 public:
  Demo(const std::shared_ptr<grpc::Channel>& channel, std::string force)
      : force_(std::move(force)),
        parent_("forces/" + force_),
        stub_(wv1::WorkshopsService::NewStub(channel)) {}

  // The demo scenario read top to bottom, with its data tables inline: one story, not a unit.
  // NOLINTNEXTLINE(readability-function-size)
  bool Run() {
    const std::vector<VenueSpec> venues = {
        {"example-academy-derby", "Example Academy, Derby", cv1::VENUE_KIND_SECONDARY, "derby-city",
         1150, "DE1 1AA"},
        {"peak-view-primary", "Peak View Primary School, Buxton", cv1::VENUE_KIND_PRIMARY,
         "high-peak", 240, "SK17 1AA"},
        {"example-sixth-form-belper", "Example Sixth Form College, Belper", cv1::VENUE_KIND_COLLEGE,
         "amber-valley", 650, "DE56 1AA"},
        {"dales-special-school", "Example Special School, Matlock", cv1::VENUE_KIND_SPECIAL_SCHOOL,
         "derbyshire-dales", 90, "DE4 1AA"},
        {"hillside-secondary-ilkeston", "Hillside Secondary School, Ilkeston",
         cv1::VENUE_KIND_SECONDARY, "erewash", 980, "DE7 1AA"},
        {"chesterfield-community-centre", "Example Community Centre, Chesterfield",
         cv1::VENUE_KIND_COMMUNITY, "chesterfield", 0, "S40 1AA"},
        {"derby-university-campus", "University of Derby (partner venue)",
         cv1::VENUE_KIND_UNIVERSITY, "derby-city", 0, "DE22 1AA"},
    };
    for (const auto& v : venues) {
      if (!CreateVenue(v)) return false;
    }

    const std::vector<PresenterSpec> presenters = {
        {"dmiu-coordinator", "Digital Media Coordinator (DMIU)",
         cv1::PRESENTER_TEAM_DIGITAL_MEDIA_INVESTIGATION_UNIT, ""},
        {"dmiu-investigator-4127", "Digital Media Investigator, staff no. 4127",
         cv1::PRESENTER_TEAM_DIGITAL_MEDIA_INVESTIGATION_UNIT, ""},
        {"snt-high-peak-pcso-2291", "PCSO, High Peak Safer Neighbourhood Team (no. 2291)",
         cv1::PRESENTER_TEAM_SAFER_NEIGHBOURHOOD, ""},
        {"snt-chesterfield-pc-3305", "PC, Chesterfield Safer Neighbourhood Team (no. 3305)",
         cv1::PRESENTER_TEAM_SAFER_NEIGHBOURHOOD, ""},
        {"derby-university-lecturer", "Cyber-security lecturer (partner)",
         cv1::PRESENTER_TEAM_PARTNER, "University of Derby"},
    };
    for (const auto& p : presenters) {
      if (!CreatePresenter(p) || !Accredit(p.id)) return false;
    }

    const std::vector<TopicSpec> topics = {
        {"sexting-ks3", "Sexting: think before you send (KS3)",
         "Why sharing explicit images is risky and illegal under 18; what to do if an image is "
         "shared; Snapchat, KIK and Instagram examples.",
         wv1::TOPIC_CATEGORY_SEXTING, 7, 9, true, false},
        {"sexting-ks4", "Sexting and the law (KS4 and sixth form)",
         "Youth-produced imagery, sextortion warning signs, reporting routes.",
         wv1::TOPIC_CATEGORY_SEXTING, 10, 13, true, false},
        {"cse-awareness", "Child sexual exploitation: spotting the signs",
         "How exploitation starts online and who to tell.",
         wv1::TOPIC_CATEGORY_CHILD_SEXUAL_EXPLOITATION, 9, 13, true, true},
        {"grooming-parents", "Online grooming: a guide for parents and carers",
         "How groomers use social apps and games; conversations to have at home.",
         wv1::TOPIC_CATEGORY_ONLINE_GROOMING, 0, 0, false, true},
        {"app-privacy", "Privacy settings on Snapchat, KIK and Instagram",
         "Location sharing, who can contact you, reporting and blocking.",
         wv1::TOPIC_CATEGORY_PRIVACY, 5, 13, true, true},
        {"staff-briefing-sexting", "Responding to a sexting incident: staff briefing",
         "What staff should and should not do when an image is disclosed; safeguarding route.",
         wv1::TOPIC_CATEGORY_SEXTING, 0, 0, false, true},
    };
    for (const auto& t : topics) {
      if (!CreateTopic(t)) return false;
    }

    using A = cv1::WorkshopAudience;
    const A kPupils = cv1::WORKSHOP_AUDIENCE_PUPILS, kParents = cv1::WORKSHOP_AUDIENCE_PARENTS,
            kStaff = cv1::WORKSHOP_AUDIENCE_STAFF, kCommunity = cv1::WORKSHOP_AUDIENCE_COMMUNITY;
    const std::vector<SessionSpec> sessions = {
        {"y9-sexting-example-academy",
         "Year 9 sexting workshop",
         "example-academy-derby",
         -21,
         10 * 60,
         60,
         cv1::WORKSHOP_FORMAT_WORKSHOP,
         {kPupils, kStaff},
         {9},
         {"sexting-ks3", "app-privacy"},
         {"dmiu-coordinator", "derby-university-lecturer"},
         "University of Derby",
         {{9, 186}},
         0,
         7,
         0,
         1},
        {"parents-evening-example-academy",
         "Keeping children safe online: parents' evening",
         "example-academy-derby",
         -21,
         18 * 60 + 30,
         90,
         cv1::WORKSHOP_FORMAT_PARENTS_EVENING,
         {kParents, kStaff},
         {},
         {"grooming-parents", "app-privacy"},
         {"dmiu-coordinator"},
         "",
         {},
         64,
         5,
         0,
         0},
        {"y6-online-safety-peak-view",
         "Year 5 and 6 online safety lesson",
         "peak-view-primary",
         -14,
         9 * 60 + 15,
         60,
         cv1::WORKSHOP_FORMAT_LESSON,
         {kPupils},
         {5, 6},
         {"app-privacy"},
         {"snt-high-peak-pcso-2291"},
         "",
         {{5, 29}, {6, 31}},
         0,
         3,
         0,
         0},
        {"staff-briefing-belper",
         "Staff briefing: responding to sexting incidents",
         "example-sixth-form-belper",
         -10,
         15 * 60 + 45,
         60,
         cv1::WORKSHOP_FORMAT_STAFF_BRIEFING,
         {kStaff},
         {},
         {"staff-briefing-sexting"},
         {"dmiu-investigator-4127"},
         "",
         {},
         0,
         38,
         0,
         0},
        {"y12-cse-belper",
         "Sixth form: exploitation and sextortion",
         "example-sixth-form-belper",
         -7,
         11 * 60,
         75,
         cv1::WORKSHOP_FORMAT_WORKSHOP,
         {kPupils},
         {12, 13},
         {"cse-awareness", "sexting-ks4"},
         {"dmiu-investigator-4127"},
         "",
         {{12, 118}, {13, 97}},
         0,
         4,
         0,
         2},
        {"community-session-chesterfield",
         "Online safety drop-in for residents",
         "chesterfield-community-centre",
         -5,
         18 * 60,
         90,
         cv1::WORKSHOP_FORMAT_WORKSHOP,
         {kParents, kCommunity},
         {},
         {"grooming-parents", "app-privacy"},
         {"snt-chesterfield-pc-3305"},
         "",
         {},
         22,
         0,
         19,
         0},
        {"y10-sexting-example-academy",
         "Year 10 and 11: sexting and the law",
         "example-academy-derby",
         7,
         10 * 60,
         60,
         cv1::WORKSHOP_FORMAT_WORKSHOP,
         {kPupils},
         {10, 11},
         {"sexting-ks4"},
         {"dmiu-coordinator", "derby-university-lecturer"},
         "University of Derby",
         {},
         0,
         0,
         0,
         0},
        {"y8-sexting-dales-special",
         "Year 8 sexting lesson",
         "dales-special-school",
         10,
         13 * 60 + 30,
         45,
         cv1::WORKSHOP_FORMAT_LESSON,
         {kPupils},
         {8},
         {"sexting-ks3"},
         {"dmiu-investigator-4127"},
         "",
         {},
         0,
         0,
         0,
         0},
        {"y9-cse-ilkeston",
         "Year 9 CSE awareness assembly",
         "hillside-secondary-ilkeston",
         12,
         9 * 60,
         50,
         cv1::WORKSHOP_FORMAT_WORKSHOP,
         {kPupils},
         {9},
         {"cse-awareness"},
         {"snt-chesterfield-pc-3305"},
         "",
         {},
         0,
         0,
         0,
         0},
        {"webinar-parents-derby-university",
         "Webinar for parents: grooming and social apps",
         "derby-university-campus",
         14,
         19 * 60,
         60,
         cv1::WORKSHOP_FORMAT_WEBINAR,
         {kParents, kCommunity},
         {},
         {"grooming-parents"},
         {"derby-university-lecturer"},
         "University of Derby",
         {},
         0,
         0,
         0,
         0},
    };
    for (const auto& s : sessions) {
      if (!ScheduleAndMaybeDeliver(s)) return false;
    }
    std::printf("workshops_demo: done (%zu venues, %zu presenters, %zu topics, %zu workshops)\n",
                venues.size(), presenters.size(), topics.size(), sessions.size());
    return true;
  }

 private:
  std::string Name(const char* collection, const char* id) const {
    return absl::StrCat(parent_, "/", collection, "/", id);
  }

  bool CreateVenue(const VenueSpec& v) {
    wv1::CreateVenueRequest req;
    req.set_parent(parent_);
    req.set_venue_id(v.id);
    req.set_request_id(absl::StrCat("demo-venue-", v.id));
    auto* venue = req.mutable_venue();
    venue->set_display_name(v.display_name);
    venue->set_kind(v.kind);
    venue->set_area(v.area);
    venue->set_pupil_roll(v.roll);
    venue->set_postcode(v.postcode);
    wv1::Venue out;
    return Report(absl::StrCat("venue ", v.id), stub_->CreateVenue(Deadline().get(), req, &out));
  }

  bool CreatePresenter(const PresenterSpec& p) {
    wv1::CreatePresenterRequest req;
    req.set_parent(parent_);
    req.set_presenter_id(p.id);
    req.set_request_id(absl::StrCat("demo-presenter-", p.id));
    req.mutable_presenter()->set_display_name(p.display_name);
    req.mutable_presenter()->set_team(p.team);
    req.mutable_presenter()->set_organisation(p.organisation);
    wv1::Presenter out;
    return Report(absl::StrCat("presenter ", p.id),
                  stub_->CreatePresenter(Deadline().get(), req, &out));
  }

  // Grants a year's accreditation unless the presenter is already accredited.
  bool Accredit(const char* id) {
    wv1::GetPresenterRequest get;
    get.set_name(Name("presenters", id));
    wv1::Presenter p;
    grpc::Status s = stub_->GetPresenter(Deadline().get(), get, &p);
    if (!s.ok()) return Report(absl::StrCat("read presenter ", id), s);
    if (p.accreditation().state() == cv1::ACCREDITATION_STATE_ACCREDITED) {
      std::printf("workshops_demo: accreditation %s: already current\n", id);
      return true;
    }
    wv1::GrantAccreditationRequest grant;
    grant.set_name(p.name());
    grant.set_etag(p.etag());
    *grant.mutable_expire_time() = outreach::ToProtoTime(absl::Now() + absl::Hours(24 * 365));
    grant.set_note("Cyber-safety presenter briefing (new College of Policing package)");
    return Report(absl::StrCat("accreditation ", id),
                  stub_->GrantAccreditation(Deadline().get(), grant, &p));
  }

  bool CreateTopic(const TopicSpec& t) {
    wv1::CreateTopicRequest req;
    req.set_parent(parent_);
    req.set_topic_id(t.id);
    req.set_request_id(absl::StrCat("demo-topic-", t.id));
    auto* topic = req.mutable_topic();
    topic->set_display_name(t.display_name);
    topic->set_description(t.description);
    topic->set_category(t.category);
    topic->set_min_year_group(t.min_year);
    topic->set_max_year_group(t.max_year);
    topic->set_suitable_for_pupils(t.pupils);
    topic->set_suitable_for_adults(t.adults);
    topic->set_version("2025.1");
    wv1::Topic out;
    return Report(absl::StrCat("topic ", t.id), stub_->CreateTopic(Deadline().get(), req, &out));
  }

  bool ScheduleAndMaybeDeliver(const SessionSpec& s) {
    // Times are anchored to today's local midnight; a later run finds the ids already taken.
    const absl::Time midnight = outreach::StartOfLocalDay(outreach::LocalDay(absl::Now()));
    const absl::Time start =
        midnight + absl::Hours(24) * s.day_offset + absl::Minutes(s.start_minutes);
    wv1::ScheduleWorkshopRequest req;
    req.set_parent(parent_);
    req.set_workshop_id(s.id);
    auto* w = req.mutable_workshop();
    w->set_title(s.title);
    w->set_venue(Name("venues", s.venue));
    *w->mutable_start_time() = outreach::ToProtoTime(start);
    *w->mutable_end_time() = outreach::ToProtoTime(start + absl::Minutes(s.length_minutes));
    w->set_format(s.format);
    for (auto a : s.audiences) w->add_audiences(a);
    for (int y : s.years) w->add_year_groups(y);
    for (const char* t : s.topics) w->add_topics(Name("topics", t));
    for (const char* p : s.presenters) w->add_presenters(Name("presenters", p));
    w->set_partner_organisation(s.partner);
    wv1::Workshop out;
    if (!Report(absl::StrCat("workshop ", s.id),
                stub_->ScheduleWorkshop(Deadline().get(), req, &out))) {
      return false;
    }
    if (s.day_offset >= 0) return true;

    wv1::GetWorkshopRequest get;
    get.set_name(Name("workshops", s.id));
    grpc::Status status = stub_->GetWorkshop(Deadline().get(), get, &out);
    if (!status.ok()) return Report(absl::StrCat("read workshop ", s.id), status);
    if (out.state() != wv1::WORKSHOP_STATE_SCHEDULED) {
      std::printf("workshops_demo: delivery %s: already recorded\n", s.id);
      return true;
    }
    wv1::DeliverWorkshopRequest deliver;
    deliver.set_name(out.name());
    deliver.set_etag(out.etag());
    deliver.set_request_id(absl::StrCat("demo-deliver-", s.id));
    auto* d = deliver.mutable_delivery();
    *d->mutable_delivered_time() = outreach::ToProtoTime(start + absl::Minutes(s.length_minutes));
    d->set_actual_duration_minutes(s.length_minutes);
    int total = 0;
    for (const auto& [year, pupils] : s.pupils) {
      auto* yc = d->mutable_headcount()->add_pupils();
      yc->set_year_group(year);
      yc->set_pupils(pupils);
      total += pupils;
    }
    d->mutable_headcount()->set_parents(s.parents);
    d->mutable_headcount()->set_staff(s.staff);
    d->mutable_headcount()->set_community_members(s.community);
    total += s.parents + s.staff + s.community;
    // Anonymous feedback from about two thirds of the audience.
    auto* f = d->mutable_feedback();
    const int responses = total * 2 / 3;
    f->set_responses(responses);
    f->set_ratings_count(responses);
    f->set_ratings_sum(static_cast<int64_t>(responses) * 9 / 2);  // mean 4.5
    f->mutable_know_what_to_do()->set_before(responses / 3);
    f->mutable_know_what_to_do()->set_after(responses * 9 / 10);
    f->mutable_know_who_to_tell()->set_before(responses / 2);
    f->mutable_know_who_to_tell()->set_after(responses * 19 / 20);
    d->set_safeguarding_disclosures(s.disclosures);
    for (int i = 0; i < s.disclosures; ++i) {
      d->add_referral_references(absl::StrCat("DEMO-REF-", s.id, "-", i + 1).substr(0, 64));
    }
    return Report(absl::StrCat("delivery ", s.id),
                  stub_->DeliverWorkshop(Deadline().get(), deliver, &out));
  }

  std::string force_;
  std::string parent_;
  std::unique_ptr<wv1::WorkshopsService::Stub> stub_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string target;
  std::string force;
  outreach::ClientSecurity security;
  outreach::ConfigParser parser("workshops_demo", "OUTREACH_DEMO_");
  parser.String("target", &target, std::string("127.0.0.1:50051"),
                "host:port of the workshops service", outreach::ValidateHostPort);
  parser.String("force", &force, std::string("derbyshire"), "force id to load the data into",
                outreach::ValidateNotEmpty);
  outreach::RegisterClientSecuritySettings(parser, &security);
  outreach::ParseConfigOrExit(parser, argc, argv);
  auto channel = outreach::OpenChannel(target, security);
  if (!channel.ok()) {
    std::fprintf(stderr, "workshops_demo: %s\n", std::string(channel.status().message()).c_str());
    return 2;
  }
  Demo demo(*channel, force);
  return demo.Run() ? 0 : 1;
}
