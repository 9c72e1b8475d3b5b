// The single translation unit that compiles Boost.Asio, Asio SSL and Beast
// (BOOST_*_SEPARATE_COMPILATION is set project-wide), so other files only parse declarations.
#include <utility>  // Boost 1.74 + GCC 12: Asio's headers need std::exchange declared first.

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
