#include "services/training/training_service.h"

int main(int argc, char** argv) {
  return outreach::RunServiceMain(argc, argv, outreach::training::TrainingServiceSpec());
}
