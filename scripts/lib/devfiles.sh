# shellcheck shell=bash
# write_dev_files ROOT PREFIX LIBDIR INCLUDEDIR — the pkg-config file and the CMake package
# for a tree at ROOT whose library lives in ROOT/LIBDIR and headers in ROOT/INCLUDEDIR.
# PREFIX is what mapishim.pc names as its prefix: an absolute path for a package, or
# ${pcfiledir}/.. relative form for a tree that may move (the dist folder).
write_dev_files() {
  local root=$1 prefix=$2 libdir=$3 includedir=$4 version to_prefix
  version=$(workspace_version)
  # From ROOT/LIBDIR/cmake/mapishim back to ROOT: one ".." per path component.
  to_prefix=$(printf '%s/cmake/mapishim' "$libdir" | sed 's|[^/][^/]*|..|g')
  mkdir -p "$root/$libdir/pkgconfig" "$root/$libdir/cmake/mapishim"
  sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" \
    -e "s|@VERSION@|$version|" packaging/pkgconfig/mapishim.pc.in >"$root/$libdir/pkgconfig/mapishim.pc"
  sed -e "s|@TO_PREFIX@|$to_prefix|" -e "s|@LIBDIR@|$libdir|g" -e "s|@INCLUDEDIR@|$includedir|g" \
    packaging/cmake/mapishimConfig.cmake.in >"$root/$libdir/cmake/mapishim/mapishimConfig.cmake"
  sed -e "s|@VERSION@|$version|" -e "s|@SIZEOF_VOID_P@|$(getconf LONG_BIT | awk '{print $1/8}')|" \
    packaging/cmake/mapishimConfigVersion.cmake.in >"$root/$libdir/cmake/mapishim/mapishimConfigVersion.cmake"
}

workspace_version() {
  sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml
}
