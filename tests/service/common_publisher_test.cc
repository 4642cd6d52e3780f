// The outbox publisher against a gRPC receiver of IngestEvents that records what it gets and
// can be told to fail: ordering, batching per force, marking only after the answer, backoff
// while metrics is down, redelivery with stable ids after a lost answer, dead-lettering.
// (The real metrics service is exercised end to end in the suite's e2e tests.)
#include <algorithm>
#include <atomic>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/db.h"
#include "common/publisher.h"
#include "common/store_support.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "services/metrics/client/ingest_sink.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"
#include "tests/support/wait.h"

namespace outreach {
namespace {

using outreach::events::v1::OutreachEvent;
using outreach::testing::WaitFor;
using namespace outreach::metrics::v1;

class RecordingReceiver final : public MetricsService::Service {
 public:
  grpc::Status IngestEvents(grpc::ServerContext*, const IngestEventsRequest* request,
                            IngestEventsResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (hold_) {  // a call in flight for as long as the test wants
      ++held_;
      mu_.Await(absl::Condition(
          +[](bool* hold) { return !*hold; }, &hold_));
    }
    if (fail_before_recording_ > 0) {
      --fail_before_recording_;
      return grpc::Status(grpc::UNAVAILABLE, "down");
    }
    for (int i = 0; i < request->events_size(); ++i) {
      const auto& e = request->events(i);
      parents_.push_back(request->parent());
      received_.push_back(e.event_id());
      auto* r = response->add_results();
      r->set_index(i);
      r->set_event_id(e.event_id());
      r->set_outcome(e.subject() == "malformed"          ? INGEST_OUTCOME_REJECTED
                     : seen_.insert(e.event_id()).second ? INGEST_OUTCOME_ACCEPTED
                                                         : INGEST_OUTCOME_DUPLICATE);
    }
    batch_sizes_.push_back(request->events_size());
    if (lose_answers_ > 0) {
      --lose_answers_;
      return grpc::Status(grpc::UNAVAILABLE, "answer lost");
    }
    return grpc::Status::OK;
  }

  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_before_recording_ ABSL_GUARDED_BY(mu_) = 0;
  int lose_answers_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;  // calls wait while set
  int held_ ABSL_GUARDED_BY(mu_) = 0;       // calls that waited
  std::vector<std::string> received_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> parents_ ABSL_GUARDED_BY(mu_);
  std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = db::Database::Open(TestDatabaseLocation(dir_, "s"), {CommonMigrations()});
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&receiver_);
    server_ = builder.BuildAndStart();
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    {
      absl::MutexLock lock(&receiver_.mu_);
      receiver_.hold_ = false;  // a failed test must not leave a call that Shutdown waits for
    }
    server_->Shutdown();
  }

  void Append(int n, const std::string& force, const std::string& subject = "ok") {
    ASSERT_TRUE(db_->Write([&](db::Connection& c) -> absl::Status {
                     for (int i = 0; i < n; ++i) {
                       OutreachEvent e;
                       e.set_force(force);
                       e.set_source("workshops");
                       e.set_subject(subject);
                       *e.mutable_occurred_time() = ToProtoTime(clock_.Now());
                       if (auto s = Outbox::Append(c, e, clock_.Now()); !s.ok()) return s;
                     }
                     return absl::OkStatus();
                   })
                    .ok());
  }

  std::vector<std::string> Received() {
    absl::MutexLock lock(&receiver_.mu_);
    return receiver_.received_;
  }

  std::vector<std::string> Pending() {
    std::vector<std::string> ids;
    EXPECT_TRUE(db_->Read([&](db::Connection& c) -> absl::Status {
                     auto p = Outbox::Pending(c, 100000);
                     for (const auto& e : *p) ids.push_back(e.event.event_id());
                     return absl::OkStatus();
                   })
                    .ok());
    return ids;
  }

  std::unique_ptr<OutboxPublisher> Publisher(int batch = 500,
                                             absl::Duration backoff = absl::Milliseconds(20),
                                             absl::Duration poll = absl::Milliseconds(20)) {
    PublisherOptions options;
    options.source = "workshops";
    options.batch_size = batch;
    options.poll_interval = poll;
    options.initial_backoff = backoff;
    options.max_backoff = std::max(backoff, absl::Milliseconds(100));
    options.call_timeout = absl::Seconds(2);
    return std::make_unique<OutboxPublisher>(db_.get(), &clock_, &metrics_,
                                             metrics::client::NewIngestSink(channel_), options);
  }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1732790400)};
  MetricsRegistry metrics_;
  std::unique_ptr<db::Database> db_;
  RecordingReceiver receiver_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(PublisherTest, DeliversInCommitOrderInBatchesAndMarksSent) {
  Append(1200, "derbyshire");
  const std::vector<std::string> expected = Pending();
  auto publisher = Publisher(500);
  int total = 0;
  while (true) {
    auto sent = publisher->PublishOnce();
    ASSERT_TRUE(sent.ok()) << sent.status();
    if (*sent == 0) break;
    total += *sent;
  }
  EXPECT_EQ(total, 1200);
  EXPECT_TRUE(Pending().empty());
  absl::MutexLock lock(&receiver_.mu_);
  EXPECT_EQ(receiver_.received_, expected);
  EXPECT_EQ(receiver_.batch_sizes_, (std::vector<int>{500, 500, 200}));
  EXPECT_EQ(receiver_.parents_.front(), "forces/derbyshire");
}

TEST_F(PublisherTest, OneForcePerCallInOrder) {
  Append(2, "derbyshire");
  Append(3, "nottinghamshire");
  Append(1, "derbyshire");
  auto publisher = Publisher();
  EXPECT_EQ(*publisher->PublishOnce(), 2);
  EXPECT_EQ(*publisher->PublishOnce(), 3);
  EXPECT_EQ(*publisher->PublishOnce(), 1);
  EXPECT_EQ(*publisher->PublishOnce(), 0);
  absl::MutexLock lock(&receiver_.mu_);
  EXPECT_EQ(receiver_.parents_,
            (std::vector<std::string>{"forces/derbyshire", "forces/derbyshire",
                                      "forces/nottinghamshire", "forces/nottinghamshire",
                                      "forces/nottinghamshire", "forces/derbyshire"}));
}

TEST_F(PublisherTest, NothingIsMarkedWhileMetricsIsDownAndAllArrivesAfter) {
  Append(10, "derbyshire");
  const auto expected = Pending();
  {
    absl::MutexLock lock(&receiver_.mu_);
    receiver_.fail_before_recording_ = 3;
  }
  auto publisher = Publisher();
  EXPECT_FALSE(publisher->PublishOnce().ok());
  EXPECT_EQ(Pending().size(), 10u);
  publisher->Start();
  WaitFor([&] { return Pending().empty(); });
  publisher->Stop();
  EXPECT_TRUE(Pending().empty());
  absl::MutexLock lock(&receiver_.mu_);
  EXPECT_EQ(receiver_.received_, expected);
  EXPECT_GE(receiver_.calls_, 4);
  EXPECT_GE(metrics_.Value("outreach_outbox_publish_errors_total", {{"source", "workshops"}}), 3);
}

TEST_F(PublisherTest, ALostAnswerMeansRedeliveryWithTheSameIds) {
  Append(5, "derbyshire");
  const auto expected = Pending();
  {
    absl::MutexLock lock(&receiver_.mu_);
    receiver_.lose_answers_ = 1;
  }
  auto publisher = Publisher();
  EXPECT_FALSE(publisher->PublishOnce().ok());  // recorded by metrics, answer lost
  EXPECT_EQ(Pending(), expected);               // so still pending here
  EXPECT_EQ(*publisher->PublishOnce(), 5);
  EXPECT_TRUE(Pending().empty());
  absl::MutexLock lock(&receiver_.mu_);
  std::vector<std::string> twice = expected;
  twice.insert(twice.end(), expected.begin(), expected.end());
  EXPECT_EQ(receiver_.received_, twice);  // same ids both times: dedupe makes it harmless
  EXPECT_EQ(receiver_.seen_.size(), 5u);
}

TEST_F(PublisherTest, RejectedEventsAreDeadLetteredNotRetriedForever) {
  Append(1, "derbyshire", "malformed");
  Append(2, "derbyshire");
  auto publisher = Publisher();
  EXPECT_EQ(*publisher->PublishOnce(), 3);
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(metrics_.Value("outreach_outbox_rejected_total", {{"source", "workshops"}}), 1);
  EXPECT_EQ(metrics_.Value("outreach_outbox_published_total", {{"source", "workshops"}}), 2);
}

TEST_F(PublisherTest, StopReturnsPromptlyWhileBackingOff) {
  server_->Shutdown();
  Append(1, "derbyshire");
  // A backoff of an hour: a Stop that waited it out instead of interrupting it would blow the
  // bound below by far (with a short backoff it would pass either way).
  auto publisher = Publisher(500, absl::Hours(1));
  publisher->Start();
  // The first failed call is counted before the publisher backs off.
  ASSERT_TRUE(WaitFor([&] {
    return metrics_.Value("outreach_outbox_publish_errors_total", {{"source", "workshops"}}) >= 1;
  }));
  const absl::Time begin = absl::Now();
  publisher->Stop();
  EXPECT_LT(absl::Now() - begin, absl::Seconds(3));
  EXPECT_EQ(Pending().size(), 1u);
}

// The wake-up tests poll only once an hour, so an event committed after the loop went idle is
// delivered within WaitFor's bound only if the commit woke the publisher. The bound is generous
// (nothing asserts how fast); a wake-up that never comes fails the test.
constexpr absl::Duration kNeverPolls = absl::Hours(1);

TEST_F(PublisherTest, ACommitWakesThePublisherWithoutAPoll) {
  auto publisher = Publisher(500, absl::Milliseconds(20), kNeverPolls);
  publisher->Start();
  // Rounds, each appended only after the previous one arrived: by then the loop has gone idle
  // (a loop that polls only would re-read once right after a batch, and could catch one append
  // by luck, but not both).
  for (int round = 1; round <= 2; ++round) {
    Append(1, "derbyshire");
    ASSERT_TRUE(WaitFor([&] { return Received().size() == static_cast<size_t>(round); }))
        << "round " << round << ": not delivered without a poll";
  }
  EXPECT_TRUE(Pending().empty());
  publisher->Stop();
}

TEST_F(PublisherTest, CommitsDuringAnInFlightCallAreDeliveredAfterIt) {
  {
    absl::MutexLock lock(&receiver_.mu_);
    receiver_.hold_ = true;
  }
  Append(1, "derbyshire");
  auto publisher = Publisher(500, absl::Milliseconds(20), kNeverPolls);
  publisher->Start();
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&receiver_.mu_);
    return receiver_.held_ == 1;
  }));
  // The first call carries the one event read before these commits; their signals arrive while
  // it is in flight and must make the loop read again rather than sleep for an hour.
  Append(2, "derbyshire");
  Append(1, "nottinghamshire");
  {
    absl::MutexLock lock(&receiver_.mu_);
    receiver_.hold_ = false;
  }
  EXPECT_TRUE(WaitFor([&] { return Pending().empty(); }));
  publisher->Stop();
  absl::MutexLock lock(&receiver_.mu_);
  EXPECT_EQ(receiver_.seen_.size(), 4u);
}

TEST_F(PublisherTest, ARolledBackAppendDeliversNothing) {
  auto publisher = Publisher(500, absl::Milliseconds(20), kNeverPolls);
  publisher->Start();
  EXPECT_FALSE(db_->Write([&](db::Connection& c) -> absl::Status {
                    OutreachEvent e;
                    e.set_force("derbyshire");
                    e.set_source("workshops");
                    e.set_subject("rolled back");
                    *e.mutable_occurred_time() = ToProtoTime(clock_.Now());
                    if (auto s = Outbox::Append(c, e, clock_.Now()); !s.ok()) return s;
                    return absl::AbortedError("rule broken after the append");
                  })
                   .ok());
  Append(1, "derbyshire");  // committed: delivered, and alone
  const std::vector<std::string> committed = Pending();
  ASSERT_TRUE(WaitFor([&] { return Pending().empty(); }));
  publisher->Stop();
  EXPECT_EQ(Received(), committed);
}

TEST_F(PublisherTest, StopEndsAnIdleWaitAndLaterCommitsDoNotCallIt) {
  auto publisher = Publisher(500, absl::Milliseconds(20), kNeverPolls);
  publisher->Start();
  publisher->Stop();  // returns only if it woke the loop from its hour-long wait
  publisher.reset();
  Append(1, "derbyshire");  // no listener left: under ASan a dangling one would be caught here
  EXPECT_EQ(Pending().size(), 1u);
}

}  // namespace
}  // namespace outreach
