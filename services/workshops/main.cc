#include "services/workshops/workshops_service.h"

int main(int argc, char** argv) {
  return outreach::RunServiceMain(argc, argv, outreach::workshops::WorkshopsServiceSpec());
}
