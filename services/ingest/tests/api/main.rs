mod audio;
mod helpers;
