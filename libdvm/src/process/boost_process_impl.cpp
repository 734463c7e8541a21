// Boost.Process v2 is compiled separately (BOOST_PROCESS_V2_SEPARATE_COMPILATION): its
// implementation lives in exactly this one translation unit.
#include <boost/process/v2/src.hpp>
