mod audio;
mod helpers;
mod lyria;
