// outreachctl: the operators' command line for the suite (README "Operators' CLI").
#include "tools/outreachctl/cli.h"

int main(int argc, char** argv) { return outreach::ctl::Main(argc, argv); }
